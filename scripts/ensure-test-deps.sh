#!/usr/bin/env bash
# Makes sure the servers the integration tests start are installed:
# PostgreSQL from the distribution, nats-server built at a pinned version
# (scripts/install-tools.sh; Debian's older package as a fallback), and the
# chart checks' tools: helm, kubeconform and the Kubernetes API schemas
# (required), k6 for the load smoke test (required), hadolint (best effort: its test skips
# with a reason without it); and the S3-compatible versitygw built at a pinned version (no
# fallback: the archive tests need it), and Debian's Chromium for the console's browser tests.
# Idempotent; prints what it installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-test-deps: need root to run: $*" >&2; return 1
  fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { echo "ensure-test-deps: no apt-get; install $* by hand" >&2; return 1; }
  if [[ $apt_updated -eq 0 ]]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "ensure-test-deps: installing PostgreSQL" >&2
  apt_install postgresql
fi
# The Debian package starts a cluster on 5432; the tests use private ones and do not need it.

if ! "$root/scripts/install-tools.sh" nats-server >/dev/null; then
  if ! command -v nats-server >/dev/null; then
    echo "ensure-test-deps: go install failed, falling back to Debian's nats-server" >&2
    apt_install nats-server
  fi
fi

# The chart tests run with `npm test` wherever these install; CI must not skip them.
"$root/scripts/install-tools.sh" helm kubeconform kube-schemas >/dev/null

# k6 for the load smoke test (load-tests/src/load-smoke.int.test.ts, `npm run load:smoke`).
"$root/scripts/install-tools.sh" k6 >/dev/null

if ! "$root/scripts/install-tools.sh" hadolint >/dev/null; then
  echo "ensure-test-deps: hadolint could not be installed; the Dockerfile lint test will be skipped" >&2
fi
"$root/scripts/install-tools.sh" versitygw >/dev/null

# Debian's Chromium for the console's browser tests (web/tests, Playwright with executablePath).
"$root/scripts/ensure-chromium.sh" >/dev/null
