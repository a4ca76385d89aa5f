#!/usr/bin/env bash
# Debian packages the local cluster runs on: containerd, runc, the CNI plugins, etcd, buildah
# (builds the images without a daemon), debootstrap (the images' Debian base), iptables
# (kube-proxy), nft (k8s:down removes the tables iptables made) and conntrack. Idempotent;
# installs only what is missing, never starts a service.
source "$(dirname "$0")/lib.sh"
need_root

PACKAGES=(containerd runc containernetworking-plugins etcd-server buildah debootstrap iptables nftables conntrack libc6-dev gcc)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

log "installing ${missing[*]}"
# Packages must not start their daemons (containerd, etcd) on the host: the cluster runs its
# own, with its state in .k8s/. policy-rc.d tells invoke-rc.d so; keep one that is there.
policy=/usr/sbin/policy-rc.d
added_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
fi
trap '[[ -n $added_policy ]] && rm -f "$policy"' EXIT
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
if ! apt_get install -y --no-install-recommends "${missing[@]}" >"$CACHE/apt.log" 2>&1; then
  apt_get update >>"$CACHE/apt.log" 2>&1
  apt_get install -y --no-install-recommends "${missing[@]}" >>"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log" >&2; die "apt-get install failed (log: $CACHE/apt.log)"; }
fi
