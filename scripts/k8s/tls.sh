#!/usr/bin/env bash
# The release's TLS certificate on the local cluster, from the project's development CA:
#   scripts/k8s/tls.sh [RELEASE [NAMESPACE]]        (defaults: vigil vigil)
#   scripts/k8s/tls.sh --names [RELEASE [NAMESPACE]] (only prints the names, one a line)
# makes (once) a CA with `vigil certs ca` in .k8s/tls, issues a server certificate with
# `vigil certs server` for every in-cluster name of the receiver's, the query service's and the
# bundled NATS's Services (what the chart's vigil.serviceDnsNames lists with NATS TLS on, and what
# clients in the cluster dial: the components reach NATS at tls://<release>-nats:4222),
# and puts both into the kubernetes.io/tls Secret `vigil-tls` (tls.crt, tls.key, ca.crt) that
# charts/vigil/ci/local-cluster-values.yaml names in tls.existingSecret. Creates the namespace
# when missing. Prints the CA's path last: clients outside the cluster verify against it and
# dial the Service by address with the name <release>-receiver.<namespace>.svc.
# The CA's key stays in .k8s/tls (0600) and goes with `npm run k8s:down`.
set -euo pipefail
ONLY_NAMES=
if [[ ${1:-} == --names ]]; then ONLY_NAMES=1 && shift; fi
# (lib.sh only when it is needed: --names runs in the chart's tests, without a cluster.)
RELEASE=${1:-vigil}
NAMESPACE=${2:-vigil}
# The chart's names (vigil.fullname, vigil.componentName): the release's name when it holds the
# chart's, else <release>-vigil, cut to 63 characters; then -<component> within a DNS label.
if [[ $RELEASE == *vigil* ]]; then FULL=$RELEASE; else FULL=$RELEASE-vigil; fi
FULL=${FULL:0:63} && FULL=${FULL%-}
NAMES=()
for c in receiver query nats; do
  base=${FULL:0:$((62 - ${#c}))} && base=${base%-}
  svc="$base-$c"
  NAMES+=("$svc" "$svc.$NAMESPACE" "$svc.$NAMESPACE.svc" "$svc.$NAMESPACE.svc.cluster.local")
done
if [[ -n $ONLY_NAMES ]]; then
  printf '%s\n' "${NAMES[@]}"
  exit 0
fi
source "$(dirname "$0")/lib.sh"
DIR="$STATE/tls"
SECRET=vigil-tls

# The project's CLI on the project's pinned Node (npm run puts it first on PATH; by hand, too).
NODE=$ROOT/node_modules/.bin/node
[[ -x $NODE ]] || NODE=node
vigil() { "$NODE" "$ROOT/packages/cli/src/main.ts" "$@"; }

mkdir -p "$DIR"
chmod 700 "$DIR"
if [[ ! -f $DIR/ca.pem ]]; then
  vigil certs ca --dir "$DIR" --name "Vigil local cluster CA" --days 30 --json >/dev/null
fi
vigil certs server --dir "$DIR" --name "${NAMES[@]}" --days 30 --json >/dev/null

if ! kubectl_ get namespace "$NAMESPACE" >/dev/null 2>&1; then
  kubectl_ create namespace "$NAMESPACE" >/dev/null
fi
# Replaced when it exists (a new certificate on every run); the services read it again without a
# restart (TLS_RELOAD_INTERVAL_MS).
kubectl_ -n "$NAMESPACE" create secret generic "$SECRET" --type=kubernetes.io/tls \
  --from-file=tls.crt="$DIR/server.pem" --from-file=tls.key="$DIR/server-key.pem" \
  --from-file=ca.crt="$DIR/ca.pem" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
log "TLS Secret $NAMESPACE/$SECRET: ${NAMES[0]}, ${NAMES[4]}, ${NAMES[8]} and their namespace names, signed by $DIR/ca.pem"
echo "$DIR/ca.pem"
