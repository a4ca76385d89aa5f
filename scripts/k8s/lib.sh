# shellcheck shell=bash disable=SC2034
# Shared settings of the local cluster scripts (sourced, never run). See docs/deploy.md,
# "Try it on a local cluster".
#
# Two places on disk:
#   STATE  per checkout (.k8s/, gitignored): this cluster's PKI, etcd, kubelet, logs, volumes.
#          `npm run k8s:down` stops everything and deletes it.
#   CACHE  per machine (~/.cache/vigil-k8s): what takes minutes to make and does not depend on
#          the checkout — Kubernetes and friends built from the Go module proxy, the Debian base
#          and third-party images, buildah's layer cache and containerd's image store — so a
#          second checkout (or the next `up`) reuses it. Delete it to start from nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/scripts/k8s"
STATE=${VIGIL_K8S_STATE:-$ROOT/.k8s}
CACHE=${VIGIL_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-k8s}
BIN="$CACHE/bin"

# Pinned versions. Kubernetes 1.34 is the newest minor known to run on Debian 12's containerd
# 1.6 (1.35 is announced as the last to support containerd 1.x at all) and on cgroup v1.
KUBERNETES_VERSION=v1.34.4
COREDNS_VERSION=v1.14.7
# The same release as the chart's natsCluster.image.tag and scripts/install-tools.sh.
NATS_SERVER_VERSION=v2.14.9
METRICS_SERVER_VERSION=v0.8.1
PAUSE_VERSION=3.10.1
DEBIAN_SUITE=bookworm
# Node and npm: the project's own pins (package.json "node" devDependency, packageManager).
NODE_VERSION=$(sed -n 's/.*"node": "\([0-9.]*\)".*/\1/p' "$ROOT/package.json" | head -1)
NPM_VERSION=$(sed -n 's/.*"packageManager": "npm@\([0-9.]*\)".*/\1/p' "$ROOT/package.json")
TIMESCALEDB_VERSION=2.23.1
TIMESCALEDB_SHA256=a453e6e199d2125a786ca3b341886e980424a6270282141034d89ee7c82210ad
POSTGRES_MAJOR=15

# The cluster's addresses. Pods live in network namespaces on one bridge; Service addresses
# exist only in kube-proxy's rules. Neither range is reachable from outside this machine, and
# up.sh adds rules so nothing from them leaves it either (see isolation in up.sh).
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
BRIDGE=vigilk8s0
NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
# The address the node registers with: the host's own (traffic to it never leaves the machine).
node_ip() { ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

CONTAINERD_SOCK="$STATE/run/containerd.sock"
KUBECONFIG_FILE="$STATE/pki/admin.kubeconfig"
# Which checkout owns the cluster (one per machine: the ports are fixed).
OWNER_FILE="$CACHE/cluster-owner"

# Go builds: static binaries (the images are FROM scratch), Go's own build cache.
export GOFLAGS="-buildvcs=false -mod=mod -trimpath"
export CGO_ENABLED=0
export GOWORK=off

# buildah's storage: layers cached across builds and checkouts.
BUILDAH=(buildah --root "$CACHE/buildah/root" --runroot "$CACHE/buildah/run" --storage-driver overlay)
CTR=(ctr --address "$CONTAINERD_SOCK" --namespace k8s.io)

log() { printf '[k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (containerd, the kubelet and buildah need it)"; }

# timed NAME CMD...: runs CMD and appends "NAME seconds" to $TIMINGS (when set).
timed() {
  local name=$1; shift
  local start=$SECONDS
  "$@"
  local took=$((SECONDS - start))
  log "$name: ${took} s"
  if [[ -n "${TIMINGS:-}" ]]; then printf '%s %s\n' "$name" "$took" >>"$TIMINGS"; fi
}

# stamp_ok FILE SPEC: true when FILE holds SPEC (what was built, with which recipe).
stamp_ok() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# The sysctls the kubelet, kube-proxy and the bridge plugin change; up.sh records them and
# down.sh puts them back.
TOUCHED_SYSCTLS=(
  net.ipv4.ip_forward
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.netfilter.nf_conntrack_tcp_be_liberal
)
mkdir -p "$CACHE" "$BIN"
