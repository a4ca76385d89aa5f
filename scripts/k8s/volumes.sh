#!/usr/bin/env bash
# The local cluster's storage: a default StorageClass without a provisioner and a few local
# PersistentVolumes (directories under .k8s/volumes) for the bundled NATS and TimescaleDB.
# A volume whose claim was deleted (Released) is emptied and offered again, so a reinstall
# starts from empty volumes. Idempotent; up.sh and test:k8s run it.
source "$(dirname "$0")/lib.sh"
need_root
COUNT=${VIGIL_K8S_VOLUMES:-8}

kubectl_ apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: vigil-local
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
YAML

for name in $(kubectl_ get pv -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}') \
  $(kubectl_ get pv -o jsonpath='{range .items[?(@.status.phase=="Failed")]}{.metadata.name}{"\n"}{end}'); do
  [[ $name == vigil-local-* ]] || continue
  kubectl_ delete pv "$name" --wait=true >/dev/null
  rm -rf "${STATE:?}/volumes/${name#vigil-local-}"
done

for i in $(seq 1 "$COUNT"); do
  dir="$STATE/volumes/pv$i"
  mkdir -p "$dir"
  kubectl_ get pv "vigil-local-pv$i" >/dev/null 2>&1 && continue
  kubectl_ apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: { name: vigil-local-pv$i }
spec:
  capacity: { storage: 50Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: vigil-local
  volumeMode: Filesystem
  local: { path: "$dir" }
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: ["$NODE_NAME"] }]
YAML
done
