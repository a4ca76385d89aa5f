#!/usr/bin/env bash
# `npm run k8s:down`: stops the local cluster and leaves nothing of it behind on the host —
# no process, mount, network device, network namespace, iptables chain, cgroup or changed
# sysctl — then deletes its state (.k8s/, except the logs of the last run). The machine's
# cache (binaries, images) stays for the next `up`. Safe to run twice, or after a failed up.
# Ends with a check of all of the above: exits non-zero, naming what is left, if anything is.
source "$(dirname "$0")/lib.sh"
need_root

PIDS="$STATE/pids"
HOST_BEFORE="$STATE/host-before"

if [[ -f "$OWNER_FILE" && "$(cat "$OWNER_FILE")" != "$STATE" ]]; then
  other=$(cat "$OWNER_FILE")
  if [[ -f "$other/pids/kube-apiserver" ]] && kill -0 "$(cat "$other/pids/kube-apiserver")" 2>/dev/null; then
    die "the running cluster belongs to $other: run 'npm run k8s:down' there"
  fi
fi

pid_of() { [[ -f "$PIDS/$1" ]] && cat "$PIDS/$1"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }
# stop NAME [SECONDS]: SIGTERM, then SIGKILL after SECONDS.
stop() {
  local name=$1 limit=${2:-15} p i
  p=$(pid_of "$name") || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for ((i = 0; i < limit * 4; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && { kill -9 "$p" 2>/dev/null || true; sleep 0.5; }
  fi
  rm -f "$PIDS/$name"
}

# ---- 1. Pods first, while the kubelet can still tear them down properly (the CNI plugin
# removes each pod's veth, address and namespace). The controllers go first so nothing is
# recreated.
stop kube-controller-manager
stop kube-scheduler
if alive kube-apiserver && alive kubelet && alive containerd; then
  kubectl_ delete pods --all --all-namespaces --force --grace-period=0 --wait=false >/dev/null 2>&1 || true
  for ((i = 0; i < 120; i++)); do
    [[ -z "$("${CTR[@]}" tasks ls -q 2>/dev/null)" ]] && break
    sleep 0.5
  done
fi

# ---- 2. the node and the control plane
stop kubelet
stop kube-proxy
stop kube-apiserver
stop etcd

# ---- 3. whatever containers are left, then containerd. Sandboxes removed here lose their
# CNI teardown; their namespaces and veths go with the bridge and mounts below.
if alive containerd; then
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  for ((i = 0; i < 20; i++)); do
    [[ -z "$("${CTR[@]}" tasks ls 2>/dev/null | awk 'NR>1 && $3=="RUNNING"')" ]] && break
    sleep 0.5
  done
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1 || true; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1 || true; done
fi
stop containerd 30
# Shims whose containerd is gone (they name our socket on their command line).
for p in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done

# ---- 4. mounts: container root filesystems, pod volumes, network namespaces
our_mounts() {
  awk '{print $2}' /proc/self/mounts | sed 's/\\040/ /g' |
    grep -E "^($STATE|$CACHE/containerd|$CACHE/containerd-opt)(/|$)" | sort -r
}
for ((round = 0; round < 3; round++)); do
  m=$(our_mounts) || true
  [[ -z $m ]] && break
  while IFS= read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; done <<<"$m"
done

# ---- 5. network: pods' veths went with their namespaces; the bridge; iptables
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$v" 2>/dev/null || true
  done
  ip link delete "$BRIDGE"
fi
[[ -x "$BIN/kube-proxy" ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
# The kubelet's and kube-proxy's remaining KUBE-* chains, and ours (VIGIL-K8S-*).
drop_chains() {
  local ipt=$1 table chain rule
  for table in filter nat mangle; do
    "$ipt" -w -t "$table" -S >/dev/null 2>&1 || continue
    # Jumps into the chains first (a chain in use cannot be deleted), then the chains.
    while IFS= read -r rule; do
      # shellcheck disable=SC2086
      eval "$ipt -w -t $table ${rule/-A/-D}" 2>/dev/null || true
    done < <("$ipt" -w -t "$table" -S 2>/dev/null | grep -E '^-A ' | grep -E -- '-j (KUBE-|VIGIL-K8S-)' | grep -vE '^-A (KUBE-|VIGIL-K8S-)')
    for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\|VIGIL-K8S-[^ ]*\)$/\1/p'); do
      "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\|VIGIL-K8S-[^ ]*\)$/\1/p'); do
      "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}
if command -v iptables >/dev/null; then
  drop_chains iptables
  drop_chains ip6tables
fi
# Tables that iptables (nf_tables backend) created for the cluster and that are empty again.
if command -v nft >/dev/null && [[ -f "$HOST_BEFORE/nft-tables" ]]; then
  while read -r family table; do
    grep -qx "table $family $table" "$HOST_BEFORE/nft-tables" && continue
    if ! nft list table "$family" "$table" 2>/dev/null | grep -qE '^\s+(ip|ip6|meta|ct|counter|jump|goto|reject|drop|accept|tcp|udp|oifname|iifname|mark|fib|masquerade|dnat|snat)\b'; then
      nft delete table "$family" "$table" 2>/dev/null || true
    fi
  done < <(nft list tables 2>/dev/null | awk '$1=="table"{print $2, $3}')
fi

# ---- 6. cgroups the kubelet made (under its cgroupRoot)
for hierarchy in /sys/fs/cgroup/*/; do
  top="${hierarchy}vigil-k8s"
  [[ -d $top ]] || continue
  while IFS= read -r dir; do
    for p in $(cat "$dir/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    rmdir "$dir" 2>/dev/null || true
  done < <(find "$top" -depth -type d 2>/dev/null)
done

# ---- 7. files the kubelet and the CNI plugins keep outside .k8s
for link in /var/log/containers/*.log; do
  [[ -L $link && "$(readlink "$link")" == "$STATE"/* ]] && rm -f "$link"
done
if [[ -f "$HOST_BEFORE/complete" && ! -f "$HOST_BEFORE/var-log-containers-existed" ]]; then
  rmdir /var/log/containers 2>/dev/null || true
fi
if [[ -f "$HOST_BEFORE/complete" && ! -f "$HOST_BEFORE/var-log-pods-existed" ]]; then
  rmdir /var/log/pods 2>/dev/null || true
fi
rm -rf /var/lib/cni/networks/vigil-k8s /var/lib/cni/results/vigil-k8s-* 2>/dev/null || true
rmdir /var/lib/cni/networks /var/lib/cni/results /var/lib/cni 2>/dev/null || true

# ---- 8. sysctls as they were before up
if [[ -f "$HOST_BEFORE/sysctl" ]]; then
  while IFS=$'\t' read -r key value; do
    [[ "$(sysctl -n "$key" 2>/dev/null)" == "$value" ]] && continue
    sysctl -qw "$key=$value" 2>/dev/null || log "could not restore $key=$value"
  done <"$HOST_BEFORE/sysctl"
fi

# ---- 9. the check: is anything of the cluster left?
left=()
for p in $(pgrep -f "^($BIN/|containerd --config $STATE|etcd --name vigil-k8s)" 2>/dev/null); do
  left+=("process $p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-100)")
done
for p in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" 2>/dev/null); do left+=("shim process $p"); done
while IFS= read -r mp; do [[ -n $mp ]] && left+=("mount $mp"); done < <(our_mounts || true)
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("network device $BRIDGE")
while IFS= read -r v; do [[ -n $v ]] && left+=("network device $v"); done < <(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | grep '^veth' || true)
if command -v iptables >/dev/null; then
  for ipt in iptables ip6tables; do
    n=$("$ipt" -w -S 2>/dev/null | grep -cE 'KUBE-|VIGIL-K8S-' || true)
    n2=$("$ipt" -w -t nat -S 2>/dev/null | grep -cE 'KUBE-|VIGIL-K8S-' || true)
    [[ $((n + n2)) -gt 0 ]] && left+=("$ipt: $((n + n2)) rules or chains of the cluster")
  done
fi
ls -d /sys/fs/cgroup/*/vigil-k8s >/dev/null 2>&1 && left+=("cgroups $(ls -d /sys/fs/cgroup/*/vigil-k8s | tr '\n' ' ')")
if [[ -f "$HOST_BEFORE/sysctl" ]]; then
  while IFS=$'\t' read -r key value; do
    now=$(sysctl -n "$key" 2>/dev/null) || continue
    [[ "$now" == "$value" ]] || left+=("sysctl $key=$now (was $value)")
  done <"$HOST_BEFORE/sysctl"
fi
if [[ ${#left[@]} -gt 0 ]]; then
  log "left behind (state kept in $STATE for another try):"
  printf '  %s\n' "${left[@]}" >&2
  exit 1
fi

# ---- 10. the state, but the logs of this run
if [[ -d $STATE ]]; then
  find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  [[ -d "$STATE/logs" ]] && { rm -rf "$STATE/last-logs"; mv "$STATE/logs" "$STATE/last-logs"; }
fi
rm -f "$OWNER_FILE"
log "cluster down: nothing left running (logs of this run in $STATE/last-logs)"
