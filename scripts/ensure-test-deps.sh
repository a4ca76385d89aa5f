#!/usr/bin/env bash
# Makes sure the servers and tools the tests (and the front doors: npm run bench, load:smoke, …)
# start are installed:
#   postgresql     PostgreSQL from the distribution
#   nats-server    built at a pinned version (scripts/install-tools.sh; Debian's older package as a fallback)
#   helm kubeconform kube-schemas helm-docs   the chart checks (required)
#   k6             the load smoke test (required)
#   hadolint       best effort: its test skips with a reason without it
#   versitygw      the S3-compatible server the archive tests upload to, pinned (no fallback)
#   timescaledb    a private PostgreSQL with the TimescaleDB server extension, built from the
#                  vendored source; where that source is not present its tests skip, saying so
#   chromium       Debian's Chromium for the browser tests: the console's (web/tests, Playwright with
#                  executablePath) and the API reference page's (e2e/src/api-reference.int.test.ts)
#   telegraf       the peer benchmark's alternative (npm run bench:peers; not in the default set)
# Usage: scripts/ensure-test-deps.sh [ITEM...]   (default: everything npm test needs)
# Idempotent; prints what it installs. Exit status 3: only timescaledb was unavailable.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=lib/apt.sh
source "$root/scripts/lib/apt.sh"

items=("$@")
[[ ${#items[@]} -gt 0 ]] ||
  items=(postgresql nats-server helm kubeconform kube-schemas helm-docs k6 hadolint versitygw timescaledb chromium)
status=0

for item in "${items[@]}"; do
  case $item in
    postgresql)
      if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        echo "ensure-test-deps: installing PostgreSQL" >&2
        apt_install postgresql
      fi
      # The Debian package starts a cluster on 5432; the tests use private ones and do not need it.
      ;;
    nats-server)
      if ! "$root/scripts/install-tools.sh" nats-server >/dev/null; then
        if ! command -v nats-server >/dev/null; then
          echo "ensure-test-deps: go install failed, falling back to Debian's nats-server" >&2
          apt_install nats-server
        fi
      fi
      ;;
    hadolint)
      if ! "$root/scripts/install-tools.sh" hadolint >/dev/null; then
        echo "ensure-test-deps: hadolint could not be installed; the Dockerfile lint test will be skipped" >&2
      fi
      ;;
    timescaledb)
      # Built against Debian's PostgreSQL packages, which the private tree unpacks; the
      # system's PostgreSQL libraries must be there for its binaries.
      compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || apt_install postgresql
      rc=0
      "$root/scripts/install-tools.sh" timescaledb >/dev/null || rc=$?
      if [[ $rc -eq 3 ]]; then
        echo "ensure-test-deps: TimescaleDB server unavailable here; its tests will be skipped" >&2
        status=3
      elif [[ $rc -ne 0 ]]; then
        exit "$rc"
      fi
      ;;
    chromium)
      "$root/scripts/ensure-chromium.sh" >/dev/null
      ;;
    helm | kubeconform | kube-schemas | helm-docs | k6 | versitygw | telegraf)
      "$root/scripts/install-tools.sh" "$item" >/dev/null
      ;;
    *)
      echo "ensure-test-deps: unknown item $item" >&2
      exit 2
      ;;
  esac
done
exit "$status"
