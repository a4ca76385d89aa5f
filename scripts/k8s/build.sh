#!/usr/bin/env bash
# Builds what the local cluster runs that Debian does not ship, into the machine's cache
# ($CACHE/bin), once: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy and kubectl from the k8s.io/kubernetes module on the Go module proxy; CoreDNS
# and nats-server from theirs; the pause binary from the Kubernetes sources. A binary whose
# stamp matches its version is not built again. Builds run at low CPU priority (nice): the
# machine is shared.
source "$(dirname "$0")/lib.sh"
command -v go >/dev/null || die "go is required (it builds Kubernetes from the Go module proxy)"
command -v gcc >/dev/null || die "gcc is required (the pause binary)"

K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
k8s_src="$CACHE/src/kubernetes-$KUBERNETES_VERSION"

module_json() { go mod download -json "$1"; }
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -1; }

# The k8s.io/kubernetes module points its k8s.io/* dependencies at ./staging, which the
# published module zip does not contain: require the published v0.MINOR.PATCH releases of
# those modules instead, and drop vendor/ and the workspace files.
prepare_kubernetes_source() {
  [[ -f "$k8s_src/.prepared" ]] && return 0
  local dir staging_version=v0.${KUBERNETES_VERSION#v1.}
  dir=$(module_json "k8s.io/kubernetes@$KUBERNETES_VERSION" | json_field Dir)
  [[ -d "$dir" ]] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"
  rm -rf "$k8s_src" && mkdir -p "$(dirname "$k8s_src")"
  cp -r "$dir" "$k8s_src" && chmod -R u+w "$k8s_src"
  rm -rf "$k8s_src/vendor" "$k8s_src/go.work" "$k8s_src/go.work.sum"
  local edits=() m
  for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*|\1|p' "$k8s_src/go.mod"); do
    edits+=("-dropreplace=$m" "-require=$m@$staging_version")
  done
  [[ ${#edits[@]} -gt 0 ]] || die "no staging replaces found in k8s.io/kubernetes's go.mod"
  (cd "$k8s_src" && go mod edit "${edits[@]}")
  touch "$k8s_src/.prepared"
}

build_kubernetes() {
  local spec="$KUBERNETES_VERSION ${K8S_BINS[*]}"
  local b all=1
  for b in "${K8S_BINS[@]}"; do [[ -x "$BIN/$b" ]] || all=; done
  if [[ -n $all ]] && stamp_ok "$BIN/.kubernetes.stamp" "$spec"; then return 0; fi
  timed "kubernetes source ($KUBERNETES_VERSION)" prepare_kubernetes_source
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local date
  date=$(module_json "k8s.io/kubernetes@$KUBERNETES_VERSION" | json_field Time)
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld+=" -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=$date"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
  local pkgs=()
  for b in "${K8S_BINS[@]}"; do pkgs+=("./cmd/$b"); done
  log "building ${K8S_BINS[*]} $KUBERNETES_VERSION (several minutes the first time)"
  (cd "$k8s_src" && timed "kubernetes binaries" nice -n 10 go build -ldflags "$ld" -o "$BIN/" "${pkgs[@]}") \
    >"$CACHE/build-kubernetes.log" 2>&1 || { tail -30 "$CACHE/build-kubernetes.log" >&2; die "Kubernetes build failed"; }
  cat "$CACHE/build-kubernetes.log" >&2
  echo "$spec" >"$BIN/.kubernetes.stamp"
}

# go_install NAME MODULE@VERSION [PACKAGE]: a static binary from the Go module proxy.
go_install() {
  local name=$1 spec=$2
  if [[ -x "$BIN/$name" ]] && stamp_ok "$BIN/.$name.stamp" "$spec"; then return 0; fi
  log "building $spec"
  if ! GOBIN="$BIN" timed "$name" nice -n 10 go install -ldflags "-s -w" "$spec" >"$CACHE/build-$name.log" 2>&1; then
    tail -20 "$CACHE/build-$name.log" >&2
    die "$name did not build"
  fi
  echo "$spec" >"$BIN/.$name.stamp"
}

# The sandbox ("pause") container's binary, from the Kubernetes sources, statically linked:
# its image is FROM scratch.
build_pause() {
  local spec="$KUBERNETES_VERSION $PAUSE_VERSION"
  if [[ -x "$BIN/pause" ]] && stamp_ok "$BIN/.pause.stamp" "$spec"; then return 0; fi
  prepare_kubernetes_source
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-vigil" -o "$BIN/pause" "$k8s_src/build/pause/linux/pause.c"
  strip "$BIN/pause"
  echo "$spec" >"$BIN/.pause.stamp"
}

build_kubernetes
build_pause
go_install coredns "github.com/coredns/coredns@$COREDNS_VERSION"
go_install nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
if [[ -n "${VIGIL_K8S_METRICS_SERVER:-}" ]]; then
  go_install metrics-server "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
fi
