#!/usr/bin/env bash
# `npm run k8s:up`: a single-node Kubernetes cluster on this machine, for trying the chart and
# for `npm run test:k8s`. The first run installs Debian packages and builds Kubernetes from the
# Go module proxy (see build.sh; cached per machine); later runs start in about a quarter of a
# minute. Idempotent: with the cluster already up it only tidies the volumes and says so.
#
# What it changes on the host, and `npm run k8s:down` puts back or removes:
#   - processes: containerd, etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#     kubelet, kube-proxy (and the containers), all started from here, pids in .k8s/pids;
#   - a bridge (vigilk8s0, 10.244.0.1/24) the pods hang off; the node's address is the bridge's;
#   - iptables: kube-proxy's and the kubelet's chains, and VIGIL-K8S-* chains that keep traffic
#     from the pod and Service ranges on this machine;
#   - sysctls: ip_forward (routing between pods and Services) and what the kubelet sets
#     (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops, ...), recorded first;
#   - cgroups under /vigil-k8s, mounts under .k8s/ and the cache, symlinks in /var/log/containers.
# Nothing listens beyond this machine: the API server and the kubelet bind the bridge's address,
# etcd and the rest 127.0.0.1.
source "$(dirname "$0")/lib.sh"
need_root

NODE_IP=${POD_CIDR%.*}.1
PIDS="$STATE/pids"
LOGS="$STATE/logs"
HOST_BEFORE="$STATE/host-before"
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

running() { [[ -f "$PIDS/$1" ]] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

# ---- 0. one cluster per machine
if [[ -f "$OWNER_FILE" ]]; then
  owner=$(cat "$OWNER_FILE")
  if [[ "$owner" != "$STATE" ]]; then
    if [[ -f "$owner/pids/kube-apiserver" ]] && kill -0 "$(cat "$owner/pids/kube-apiserver")" 2>/dev/null; then
      die "a cluster of another checkout is running ($owner): run 'npm run k8s:down' there first"
    fi
    log "taking over from a stopped cluster of $owner"
  fi
fi
all_up=1
for c in "${COMPONENTS[@]}"; do running "$c" || all_up=; done
if [[ -n $all_up ]] && kubectl_ get --raw /readyz >/dev/null 2>&1; then
  "$HERE/volumes.sh"
  log "the cluster is already up: export KUBECONFIG=$KUBECONFIG_FILE"
  exit 0
fi
for c in "${COMPONENTS[@]}"; do
  if running "$c"; then
    log "a previous cluster is partly running: taking it down first"
    "$HERE/down.sh"
    break
  fi
done

# ---- 1. packages and binaries (cached), helm (the project's pinned one)
timed "apt packages" "$HERE/deps.sh"
timed "binaries" "$HERE/build.sh"
"$ROOT/scripts/install-tools.sh" helm >/dev/null

started=$SECONDS
mkdir -p "$STATE" "$PIDS" "$LOGS"
echo "$STATE" >"$OWNER_FILE"

# ---- 2. what the host looks like before, for down.sh (kept from an earlier run that was not
# taken down properly: that one is the clean state)
if [[ ! -f "$HOST_BEFORE/complete" ]]; then
  rm -rf "$HOST_BEFORE" && mkdir -p "$HOST_BEFORE"
  for s in "${TOUCHED_SYSCTLS[@]}"; do
    v=$(sysctl -n "$s" 2>/dev/null) && printf '%s\t%s\n' "$s" "$v" >>"$HOST_BEFORE/sysctl"
  done
  iptables-save >"$HOST_BEFORE/iptables" 2>/dev/null || true
  ip6tables-save >"$HOST_BEFORE/ip6tables" 2>/dev/null || true
  nft list tables >"$HOST_BEFORE/nft-tables" 2>/dev/null || true
  [[ -d /var/log/containers ]] && touch "$HOST_BEFORE/var-log-containers-existed"
  [[ -d /var/log/pods ]] && touch "$HOST_BEFORE/var-log-pods-existed"
  touch "$HOST_BEFORE/complete"
fi

# ---- 3. PKI: one CA, a certificate per component
pki() {
  local d="$STATE/pki"
  [[ -f "$d/complete" ]] && return 0
  rm -rf "$d" && mkdir -p "$d" && chmod 700 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 365 \
    -subj "/CN=vigil-k8s-ca" 2>/dev/null
  # cert NAME CN ORG [SAN]: a client certificate, or a server one when SAN is given.
  cert() {
    local n=$1 cn=$2 o=$3 san=${4:-} ext
    ext=$(mktemp)
    {
      echo "basicConstraints=CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
      else echo "extendedKeyUsage=clientAuth"; fi
    } >"$ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$cn${o:+/O=$o}" 2>/dev/null
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -out "$d/$n.crt" \
      -days 365 -extfile "$ext" 2>/dev/null
    rm -f "$d/$n.csr" "$ext"
  }
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,IP:$NODE_IP"
  cert admin vigil-admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kube-proxy system:kube-proxy ""
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  local c
  for c in admin kubelet controller-manager scheduler kube-proxy; do
    cat >"$d/$c.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: vigil-local
    cluster: { certificate-authority: $d/ca.crt, server: "https://$NODE_IP:6443" }
users:
  - name: $c
    user: { client-certificate: $d/$c.crt, client-key: $d/$c.key }
contexts:
  - name: vigil-local
    context: { cluster: vigil-local, user: $c }
current-context: vigil-local
KUBECONFIG
  done
  touch "$d/complete"
}
pki

# ---- 4. network: the bridge, forwarding, and rules that keep cluster traffic on this machine
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
fi
ip link set "$BRIDGE" up
sysctl -qw net.ipv4.ip_forward=1
"$HERE/isolation.sh" add

# ---- 5. configuration files
mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/pod-logs" "$STATE/run"
cat >"$STATE/cni/net.d/10-vigil.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "vigil-k8s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
CNI
sed -e "s|@STATE@|$STATE|g" -e "s|@CACHE@|$CACHE|g" -e "s|@SOCK@|$CONTAINERD_SOCK|g" \
  "$HERE/config/containerd.toml" >"$STATE/containerd.toml"
sed -e "s|@STATE@|$STATE|g" -e "s|@SOCK@|$CONTAINERD_SOCK|g" -e "s|@NODE_IP@|$NODE_IP|g" \
  -e "s|@DNS_IP@|$DNS_SERVICE_IP|g" "$HERE/config/kubelet.yaml" >"$STATE/kubelet/config.yaml"
sed -e "s|@STATE@|$STATE|g" -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@NODE_IP@|$NODE_IP|g" \
  "$HERE/config/kube-proxy.yaml" >"$STATE/kube-proxy.yaml"

# start NAME CMD...: a daemon of the cluster, detached from this shell, logging to .k8s/logs.
start() {
  local name=$1; shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}
wait_for() { # SECONDS WHAT CMD...
  local limit=$1 what=$2; shift 2
  local until=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $until ]] || die "$what did not come up in ${limit} s (logs: $LOGS)"
    sleep 0.3
  done
}
port_free() { ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for p in 127.0.0.1:2379 127.0.0.1:2380 "$NODE_IP:6443"; do
  port_free "${p%:*}" "${p##*:}" || die "port $p is in use: another etcd or Kubernetes runs here"
done

# ---- 6. containerd, then the cluster's own images (pause, CoreDNS)
start containerd containerd --config "$STATE/containerd.toml"
wait_for 30 containerd "${CTR[@]}" version
timed "cluster images" "$HERE/images.sh" cluster

# ---- 7. control plane
P="$STATE/pki"
start etcd etcd --name vigil-k8s --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster vigil-k8s=http://127.0.0.1:2380 --listen-metrics-urls "" \
  --quota-backend-bytes 2147483648
wait_for 30 etcd curl -fsS http://127.0.0.1:2379/health
start kube-apiserver "$BIN/kube-apiserver" --advertise-address="$NODE_IP" --bind-address="$NODE_IP" \
  --secure-port=6443 --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range="$SERVICE_CIDR" \
  --client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file="$P/sa.pub" \
  --service-account-signing-key-file="$P/sa.key" --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction --profiling=false
wait_for 90 kube-apiserver kubectl_ get --raw /readyz
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" --profiling=false
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
  --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# ---- 8. the node, its pods' cgroups under /vigil-k8s in every (v1) hierarchy
for hierarchy in /sys/fs/cgroup/*/; do
  [[ $hierarchy == */unified/ ]] && continue
  mkdir -p "${hierarchy}vigil-k8s"
done
if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
  # A new cpuset starts with no CPUs and no memory nodes: give it its parent's.
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >/sys/fs/cgroup/cpuset/vigil-k8s/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset/vigil-k8s/cpuset.mems
fi
start kubelet "$BIN/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet/root" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME"
start kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml" --hostname-override="$NODE_NAME"
node_ready() {
  kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True
}
wait_for 90 "the node" node_ready
log "node $NODE_NAME Ready after $((SECONDS - started)) s"

# ---- 9. cluster services: DNS, the default StorageClass and its volumes
sed -e "s|@DNS_IP@|$DNS_SERVICE_IP|g" -e "s|@COREDNS_TAG@|${COREDNS_VERSION#v}|g" "$HERE/config/coredns.yaml" |
  kubectl_ apply -f - >/dev/null
"$HERE/volumes.sh"
coredns_ready() { [[ "$(kubectl_ -n kube-system get deploy coredns -o jsonpath='{.status.readyReplicas}')" == 1 ]]; }
wait_for 90 CoreDNS coredns_ready
if [[ -n "${TIMINGS:-}" ]]; then printf 'cluster start %s\n' "$((SECONDS - started))" >>"$TIMINGS"; fi
log "cluster up in $((SECONDS - started)) s: export KUBECONFIG=$KUBECONFIG_FILE  (kubectl: $BIN/kubectl)"
