#!/usr/bin/env bash
# Installs the pinned Go-built tools Vigil's tests and load tests need into .tools/bin,
# idempotently: a tool already present at the pinned version is left alone.
# Usage: scripts/install-tools.sh [nats-server] [versitygw] [helm] [k6] [kubeconform]   (default: all)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

NATS_SERVER_VERSION=v2.14.9
HELM_VERSION=v3.22.0
K6_VERSION=v1.8.1
KUBECONFORM_VERSION=v0.7.0
# The S3-compatible server the archive's tests upload to (posix backend, Apache-2.0).
VERSITYGW_VERSION=v1.8.0

declare -A module=(
  [nats-server]="github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  [helm]="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [k6]="go.k6.io/k6@$K6_VERSION"
  [kubeconform]="github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  [versitygw]="github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
)

install_one() {
  local name=$1 spec=${module[$1]}
  local stamp="$bin/.$name.version"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]]; then
    return 0
  fi
  command -v go >/dev/null || { echo "install-tools: go is required to build $name" >&2; return 1; }
  echo "install-tools: building $spec" >&2
  if ! GOBIN="$bin" GOFLAGS=-mod=mod go install "$spec" 2>"$bin/.$name.log"; then
    # go install refuses modules whose go.mod has replace directives: build inside the module.
    local mod=${spec%@*} ver=${spec#*@} modroot
    modroot=${mod%/cmd/*}
    [[ "$modroot" == "$mod" ]] || true
    local dir
    dir=$(GOFLAGS=-mod=mod go mod download -json "$modroot@$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    local work
    work=$(mktemp -d)
    cp -r "$dir/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go build -o "$bin/$name" "./${mod#"$modroot"}") || { cat "$bin/.$name.log" >&2; rm -rf "$work"; return 1; }
    rm -rf "$work"
  fi
  [[ -x "$bin/$name" ]] || { echo "install-tools: $name did not build" >&2; return 1; }
  echo "$spec" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(nats-server versitygw helm k6 kubeconform)
for t in "${tools[@]}"; do
  [[ -n "${module[$t]:-}" ]] || { echo "install-tools: unknown tool $t" >&2; exit 2; }
  install_one "$t"
done
echo "$bin"
