#!/usr/bin/env bash
# isolation.sh add|remove: iptables rules that keep the cluster's traffic on this machine.
#   FORWARD: a packet from a pod may go to another pod (the bridge) or to the host, never out of
#            another interface (pods have no business off this machine, and a Service address
#            without kube-proxy rules yet would otherwise be sent to the default gateway).
#   OUTPUT:  the host's own packets to a Service address that kube-proxy did not translate, or to
#            the pod range off the bridge, are refused instead of routed off the machine.
# Own chains (VIGIL-K8S-*), one jump each from FORWARD and OUTPUT; remove takes exactly those.
source "$(dirname "$0")/lib.sh"
need_root

remove() {
  local chain hook
  for hook in FORWARD OUTPUT; do
    chain=VIGIL-K8S-$hook
    while iptables -w -D "$hook" -j "$chain" 2>/dev/null; do :; done
    iptables -w -F "$chain" 2>/dev/null || true
    iptables -w -X "$chain" 2>/dev/null || true
  done
}

add() {
  remove
  iptables -w -N VIGIL-K8S-FORWARD
  iptables -w -A VIGIL-K8S-FORWARD -i "$BRIDGE" ! -o "$BRIDGE" \
    -m comment --comment "vigil-k8s: pods reach nothing off this machine" -j REJECT --reject-with icmp-net-prohibited
  iptables -w -I FORWARD 1 -j VIGIL-K8S-FORWARD
  iptables -w -N VIGIL-K8S-OUTPUT
  iptables -w -A VIGIL-K8S-OUTPUT -o lo -j RETURN
  # Translated by kube-proxy: on its way to a pod (-o still names the first route's device here).
  iptables -w -A VIGIL-K8S-OUTPUT -m conntrack --ctstate DNAT -j RETURN
  iptables -w -A VIGIL-K8S-OUTPUT -d "$SERVICE_CIDR" \
    -m comment --comment "vigil-k8s: Service addresses kube-proxy did not translate" -j REJECT --reject-with icmp-net-prohibited
  iptables -w -A VIGIL-K8S-OUTPUT -d "$POD_CIDR" ! -o "$BRIDGE" \
    -m comment --comment "vigil-k8s: the pod range only on its bridge" -j REJECT --reject-with icmp-net-prohibited
  iptables -w -I OUTPUT 1 -j VIGIL-K8S-OUTPUT
}

case ${1:-} in
  add) add ;;
  remove) remove ;;
  *) echo "usage: isolation.sh add|remove" >&2; exit 2 ;;
esac
