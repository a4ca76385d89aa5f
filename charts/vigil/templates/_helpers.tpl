{{/* Names ---------------------------------------------------------------------------- */}}

{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", within the 63 characters of a DNS label. */}}
{{- define "vigil.componentName" -}}
{{- printf "%s-%s" (include "vigil.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The lifecycle service's own ServiceAccount (it alone gets the archive's cloud identity), or the release's. */}}
{{- define "vigil.lifecycleServiceAccountName" -}}
{{- $sa := .Values.lifecycle.serviceAccount }}
{{- if $sa.create }}
{{- default (include "vigil.componentName" (dict "root" . "component" "lifecycle")) $sa.name }}
{{- else }}
{{- default (include "vigil.serviceAccountName" .) $sa.name }}
{{- end }}
{{- end }}

{{/* Labels ---------------------------------------------------------------------------- */}}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: vigil
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Annotations on an object's metadata: commonAnnotations, then the object's own (which win).
     Usage: {{- with include "vigil.annotations" (dict "root" $ "extra" $own) }}{{ . | nindent 2 }}{{ end }} */}}
{{- define "vigil.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) (.root.Values.commonAnnotations | default dict) }}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Images ---------------------------------------------------------------------------- */}}

{{/* A Vigil image: [registry/]repository(:tag|@digest); the component's registry and tag
     fall back to image.registry and image.tag, then to the appVersion. */}}
{{- define "vigil.image" -}}
{{- $img := .image }}
{{- $registry := default .root.Values.image.registry $img.registry }}
{{- $repo := ternary (printf "%s/%s" $registry $img.repository) $img.repository (ne $registry "") }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- /* toString: an all-digit tag from --set is a number; trimSuffix: skaffold's "tag@digest" without a digest. */}}
{{- printf "%s:%s" $repo (toString (default (default .root.Chart.AppVersion .root.Values.image.tag) $img.tag) | trimSuffix "@") }}
{{- end }}
{{- end }}

{{/* A third-party image: repository:tag or repository@digest. */}}
{{- define "vigil.thirdPartyImage" -}}
{{- if .digest }}{{ printf "%s@%s" .repository .digest }}{{ else }}{{ printf "%s:%s" .repository .tag }}{{ end }}
{{- end }}

{{/* Dependencies ------------------------------------------------------------------------ */}}

{{- define "vigil.databaseSecretName" -}}
{{- if .Values.timescaledb.enabled }}
{{- include "vigil.componentName" (dict "root" . "component" "timescaledb") }}
{{- else if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- include "vigil.componentName" (dict "root" . "component" "database") }}
{{- end }}
{{- end }}

{{- define "vigil.databaseSecretKey" -}}
{{- if or .Values.timescaledb.enabled (not .Values.database.existingSecret) }}DATABASE_URL{{ else }}{{ .Values.database.existingSecretKey }}{{ end }}
{{- end }}

{{- define "vigil.env.database" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "vigil.databaseSecretName" . }}
      key: {{ include "vigil.databaseSecretKey" . }}
{{- end }}

{{/* A component's DATABASE_URL: its own role's Secret (database.componentSecrets), else the shared one. */}}
{{- define "vigil.env.componentDatabase" -}}
{{- $own := index .root.Values.database.componentSecrets .component }}
{{- if $own }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $own }}
      key: {{ .root.Values.database.existingSecretKey }}
{{- else }}
{{- include "vigil.env.database" .root }}
{{- end }}
{{- end }}

{{/* The migrations set each component role's password from its Secret's `password`. */}}
{{- define "vigil.env.rolePasswords" -}}
{{- range $c := list "receiver" "writer" "query" "lifecycle" "alerter" }}
{{- with index $.Values.database.componentSecrets $c }}
- name: {{ printf "DATABASE_ROLE_PASSWORD_%s" (upper $c) }}
  valueFrom:
    secretKeyRef: { name: {{ . }}, key: password }
{{- end }}
{{- end }}
{{- end }}

{{/* NATS ------------------------------------------------------------------------------------ */}}

{{/* TLS on the bundled NATS's client port: with the release's certificate (tls.*), unless turned off. */}}
{{- define "vigil.natsClusterTls" -}}
{{- if and .Values.natsCluster.enabled .Values.tls.enabled .Values.natsCluster.tls.enabled }}true{{ end }}
{{- end }}

{{/* The Secret of a component's NATS user (keys `user`, `password`), or "" for none: the bundled
     NATS's (made by the nats-credentials hook Job), else nats.credentials.<component>. */}}
{{- define "vigil.natsCredentialsSecret" -}}
{{- $root := .root }}
{{- if $root.Values.natsCluster.enabled }}
{{- if $root.Values.natsCluster.auth.enabled }}
{{- printf "%s-%s" (include "vigil.componentName" (dict "root" $root "component" "nats")) .component }}
{{- end }}
{{- else }}
{{- index $root.Values.nats.credentials .component | default "" }}
{{- end }}
{{- end }}

{{/* A component's NATS connection: URL, TLS, and its own user (dict "root" . "component" "receiver"). */}}
{{- define "vigil.env.nats" -}}
{{- $root := .root }}
{{- if $root.Values.natsCluster.enabled }}
- name: NATS_URL
  value: {{ printf "%s://%s:4222" (ternary "tls" "nats" (eq (include "vigil.natsClusterTls" $root) "true")) (include "vigil.componentName" (dict "root" $root "component" "nats")) | quote }}
{{- else if $root.Values.nats.existingSecret }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.nats.existingSecret }}
      key: {{ $root.Values.nats.existingSecretKey }}
{{- else }}
- name: NATS_URL
  value: {{ $root.Values.nats.url | quote }}
{{- end }}
{{- $t := $root.Values.nats.tls }}
{{- if eq (include "vigil.natsClusterTls" $root) "true" }}
- name: NATS_TLS_CA_FILE
  value: {{ printf "%s/ca.crt" (include "vigil.tlsDir" $root) | quote }}
{{- else }}
- name: NATS_TLS_CA_FILE
  value: {{ ternary (printf "/etc/vigil/nats-ca/%s" $t.caKey) "" (ne $t.caSecret "") | quote }}
{{- end }}
- name: NATS_TLS_CERT_FILE
  value: {{ ternary "/etc/vigil/nats-client/tls.crt" "" (ne $t.clientCertSecret "") | quote }}
- name: NATS_TLS_KEY_FILE
  value: {{ ternary "/etc/vigil/nats-client/tls.key" "" (ne $t.clientCertSecret "") | quote }}
{{- with include "vigil.natsCredentialsSecret" . }}
# Its own NATS user; the streams are the admin's (the NATS setup Job), which this user may not change.
- name: NATS_USER
  valueFrom:
    secretKeyRef: { name: {{ . }}, key: user }
- name: NATS_PASSWORD_FILE
  value: /etc/vigil/nats-auth/password
- name: NATS_MANAGE_STREAMS
  value: "false"
{{- else }}
# No NATS user: the component creates the streams it needs.
- name: NATS_USER
  value: ""
- name: NATS_PASSWORD_FILE
  value: ""
- name: NATS_MANAGE_STREAMS
  value: "true"
{{- end }}
# Never a password in the environment: only NATS_PASSWORD_FILE.
- name: NATS_PASSWORD
  value: ""
{{- end }}

{{/* The NATS TLS Secrets and the component's NATS password as volumes and mounts (dict "root" . "component" …). */}}
{{- define "vigil.natsTlsVolumes" -}}
{{- $root := .root }}
{{- with $root.Values.nats.tls.caSecret }}
- name: nats-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- with $root.Values.nats.tls.clientCertSecret }}
- name: nats-client
  secret:
    secretName: {{ . }}
    # 0440
    defaultMode: 288
{{- end }}
{{- with include "vigil.natsCredentialsSecret" . }}
- name: nats-auth
  secret:
    secretName: {{ . }}
    items: [{ key: password, path: password }]
    # 0440
    defaultMode: 288
{{- end }}
{{- end }}

{{- define "vigil.natsTlsMounts" -}}
{{- $root := .root }}
{{- if $root.Values.nats.tls.caSecret }}
- name: nats-ca
  mountPath: /etc/vigil/nats-ca
  readOnly: true
{{- end }}
{{- if $root.Values.nats.tls.clientCertSecret }}
- name: nats-client
  mountPath: /etc/vigil/nats-client
  readOnly: true
{{- end }}
{{- if include "vigil.natsCredentialsSecret" . }}
- name: nats-auth
  mountPath: /etc/vigil/nats-auth
  readOnly: true
{{- end }}
{{- end }}

{{/* The Secret with the keys that sign access tokens: the operator's, or the chart's own. */}}
{{- define "vigil.jwtKeysSecretName" -}}
{{- default (include "vigil.componentName" (dict "root" . "component" "jwt-keys")) .Values.query.auth.jwtKeysSecret }}
{{- end }}

{{/* The query service's auth settings that come from Secrets; the *_FILE forms stay empty. */}}
{{- define "vigil.env.auth" -}}
{{- $a := .Values.query.auth }}
- name: AUTH_JWT_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "vigil.jwtKeysSecretName" . }}
      key: {{ if $a.jwtKeysSecret }}{{ $a.jwtKeysSecretKey }}{{ else }}AUTH_JWT_KEYS{{ end }}
- name: AUTH_JWT_KEYS_FILE
  value: ""
{{- if $a.bootstrapAdminSecret }}
- name: AUTH_BOOTSTRAP_ADMIN_USERNAME
  valueFrom:
    secretKeyRef: { name: {{ $a.bootstrapAdminSecret }}, key: {{ $a.bootstrapAdminUsernameKey }} }
- name: AUTH_BOOTSTRAP_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef: { name: {{ $a.bootstrapAdminSecret }}, key: {{ $a.bootstrapAdminPasswordKey }} }
{{- else }}
- name: AUTH_BOOTSTRAP_ADMIN_USERNAME
  value: ""
- name: AUTH_BOOTSTRAP_ADMIN_PASSWORD
  value: ""
{{- end }}
- name: AUTH_BOOTSTRAP_ADMIN_PASSWORD_FILE
  value: ""
{{- /* The OpenID Connect client secret: a mounted file only (vigil.oidcSecretMount). */}}
- name: OIDC_CLIENT_SECRET
  value: ""
- name: OIDC_CLIENT_SECRET_FILE
  value: {{ if $a.oidcClientSecretSecret }}{{ printf "/etc/vigil/oidc/%s" $a.oidcClientSecretKey | quote }}{{ else }}""{{ end }}
{{- end }}

{{/* S3 credentials for the archive, as the AWS SDK's standard variables, from a Secret only. */}}
{{- define "vigil.env.archiveCredentials" -}}
{{- $a := .Values.lifecycle.archive }}
{{- if $a.credentialsSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: { name: {{ $a.credentialsSecret }}, key: {{ $a.accessKeyIdKey }} }
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: { name: {{ $a.credentialsSecret }}, key: {{ $a.secretAccessKeyKey }} }
{{- if $a.sessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ $a.credentialsSecret }}, key: {{ $a.sessionTokenKey }}, optional: true }
{{- end }}
{{- end }}
{{- end }}

{{/* Environment ------------------------------------------------------------------------ */}}

{{/* A config map as env entries, sorted by name; whole numbers without exponent (YAML
     numbers reach templates as floats, and 1073741824 would print as 1.073741824e+09). */}}
{{- define "vigil.env.config" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ ternary ($value | int64 | toString) ($value | toString) (or (kindIs "float64" $value) (kindIs "int64" $value) (kindIs "int" $value)) | quote }}
{{- end }}
{{- end }}

{{- define "vigil.env.logLevel" -}}
- name: LOG_LEVEL
  value: {{ default .root.Values.logLevel .logLevel | quote }}
{{- end }}

{{/* The OpenTelemetry SDK's standard variables, when there is somewhere to export to. */}}
{{- define "vigil.otlpEndpoint" -}}
{{- if .Values.telemetry.otlpEndpoint }}
{{- .Values.telemetry.otlpEndpoint }}
{{- else if .Values.otelCollector.enabled }}
{{- printf "http://%s:4318" (include "vigil.componentName" (dict "root" . "component" "otel-collector")) }}
{{- end }}
{{- end }}

{{- define "vigil.env.otel" -}}
{{- $endpoint := include "vigil.otlpEndpoint" .root }}
{{- if $endpoint }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "vigil-%s" .component | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .root.Values.telemetry.sampleRatio | toString | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=vigil,k8s.namespace.name=%s" .root.Release.Namespace | quote }}
{{- end }}
{{- end }}

{{/*
The ops port: /metrics, /healthz and /readyz of the receiver and the query service (on
RECEIVER_HOST / QUERY_HOST), the writer and the lifecycle service. One number for all: each pod has
its own network namespace.
*/}}
{{- define "vigil.env.ops" -}}
{{- if not (has .prefix (list "RECEIVER" "QUERY")) }}
- name: {{ .prefix }}_OPS_HOST
  value: "0.0.0.0"
{{- end }}
- name: {{ .prefix }}_OPS_PORT
  value: {{ .root.Values.metrics.port | quote }}
{{- end }}

{{- define "vigil.port.ops" -}}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}

{{/* Readiness (the schema is there, NATS and the database answer) and liveness on the ops port;
     a startup probe holds liveness off while the process loads (slow on busy or small nodes). */}}
{{- define "vigil.probes.ops" -}}
{{- $scheme := include "vigil.scheme" .root }}
{{- with .probes.startup }}
startupProbe:
  httpGet: { path: /healthz, port: metrics, scheme: {{ $scheme }} }
  periodSeconds: {{ .periodSeconds }}
  failureThreshold: {{ .failureThreshold }}
{{- end }}
readinessProbe:
  httpGet: { path: /readyz, port: metrics, scheme: {{ include "vigil.scheme" .root }} }
  periodSeconds: {{ .probes.readiness.periodSeconds }}
  failureThreshold: {{ .probes.readiness.failureThreshold }}
livenessProbe:
  httpGet: { path: /healthz, port: metrics, scheme: {{ include "vigil.scheme" .root }} }
  periodSeconds: {{ .probes.liveness.periodSeconds }}
  failureThreshold: {{ .probes.liveness.failureThreshold }}
{{- end }}

{{/* Pods ------------------------------------------------------------------------------- */}}

{{- define "vigil.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "vigil.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* Scheduling shared by the Vigil Deployments; default spread over zones and nodes. */}}
{{- define "vigil.scheduling" -}}
{{- $c := .values }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if hasKey $c "topologySpreadConstraints" }}
topologySpreadConstraints:
{{- if $c.topologySpreadConstraints }}
  {{- toYaml $c.topologySpreadConstraints | nindent 2 }}
{{- else }}
  {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "vigil.selectorLabels" (dict "root" $.root "component" $.component) | trim | nindent 8 }}
  {{- end }}
{{- end }}
{{- end }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{- define "vigil.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Writable scratch space on a read-only root filesystem. */}}
{{- define "vigil.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "vigil.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Scaling ----------------------------------------------------------------------------- */}}

{{- define "vigil.hpa" -}}
{{- $a := .values.autoscaling }}
{{- if $a.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "vigil.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "vigil.labels" . | trim | nindent 4 }}
  {{- with include "vigil.annotations" (dict "root" .root) }}{{ . | nindent 2 }}{{ end }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "vigil.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "vigil.pdb" -}}
{{- if .values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "vigil.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "vigil.labels" . | trim | nindent 4 }}
  {{- with include "vigil.annotations" (dict "root" .root) }}{{ . | nindent 2 }}{{ end }}
spec:
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "vigil.selectorLabels" . | trim | nindent 6 }}
{{- end }}
{{- end }}

{{/* NetworkPolicy peers ------------------------------------------------------------------ */}}

{{- define "vigil.peer" -}}
- podSelector:
    matchLabels:
      {{- include "vigil.selectorLabels" . | trim | nindent 6 }}
{{- end }}

{{- define "vigil.egress.dns" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns | nindent 4 }}
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- end }}

{{- define "vigil.egress.database" -}}
{{- if .Values.timescaledb.enabled }}
- to:
    {{- include "vigil.peer" (dict "root" . "component" "timescaledb") | trim | nindent 4 }}
  ports:
    - { port: 5432, protocol: TCP }
{{- else }}
- ports:
    - { port: {{ .Values.database.port }}, protocol: TCP }
  {{- with .Values.networkPolicy.databaseTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "vigil.egress.nats" -}}
{{- if .Values.natsCluster.enabled }}
- to:
    {{- include "vigil.peer" (dict "root" . "component" "nats") | trim | nindent 4 }}
  ports:
    - { port: 4222, protocol: TCP }
{{- else }}
- ports:
    - { port: {{ .Values.nats.port }}, protocol: TCP }
  {{- with .Values.networkPolicy.natsTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "vigil.egress.otlp" -}}
{{- if .Values.telemetry.otlpEndpoint }}
- ports:
    {{- range .Values.telemetry.otlpPorts }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
  {{- with .Values.networkPolicy.otlpTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- else if .Values.otelCollector.enabled }}
- to:
    {{- include "vigil.peer" (dict "root" . "component" "otel-collector") | trim | nindent 4 }}
  ports:
    - { port: 4317, protocol: TCP }
    - { port: 4318, protocol: TCP }
{{- end }}
{{- end }}

{{/* The archive's object store port: the one in ARCHIVE_S3_ENDPOINT, else its scheme's, else 443 (AWS S3). */}}
{{- define "vigil.objectStorePort" -}}
{{- $endpoint := .Values.lifecycle.config.ARCHIVE_S3_ENDPOINT }}
{{- if $endpoint }}
{{- $u := urlParse $endpoint }}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" }}
{{- if $port }}{{ $port }}{{ else if eq $u.scheme "http" }}80{{ else }}443{{ end }}
{{- else }}443{{ end }}
{{- end }}

{{/* Egress to the archive's object store, when the archive is in S3. */}}
{{- define "vigil.egress.objectStore" -}}
{{- if hasPrefix "s3://" .Values.lifecycle.config.ARCHIVE_URL }}
- ports:
    - { port: {{ include "vigil.objectStorePort" . }}, protocol: TCP }
  {{- with .Values.lifecycle.networkPolicy.objectStoreTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Ingress to the metrics port from the scrapers, when metrics are on. */}}
{{- define "vigil.ingress.metrics" -}}
{{- if .Values.metrics.enabled }}
- ports:
    - { port: {{ .port }}, protocol: TCP }
  from:
    {{- if .Values.metrics.scrapeFrom }}
    {{- toYaml .Values.metrics.scrapeFrom | nindent 4 }}
    {{- else }}
    - namespaceSelector: {}
    {{- end }}
{{- end }}
{{- end }}

{{/* Hooks that run before install run before the release's ServiceAccount exists. */}}
{{/* Non-empty when the migrations run as an ordinary Job beside the pods rather than as a hook: the
     first install with the bundled TimescaleDB, which does not exist before the release does. */}}
{{- define "vigil.migrationsBesidePods" -}}
{{- if and .Values.timescaledb.enabled .Release.IsInstall }}true{{ end }}
{{- end }}

{{/* The migrations Job's (and its NetworkPolicy's) name: the install-time Job has its own, so the
     upgrades' hook of the usual name never collides with it while Helm removes it. */}}
{{- define "vigil.migrationsName" -}}
{{- include "vigil.componentName" (dict "root" . "component" (ternary "migrations-install" "migrations" (eq (include "vigil.migrationsBesidePods" .) "true"))) }}
{{- end }}

{{- define "vigil.hookServiceAccountName" -}}
{{- if and .Values.serviceAccount.create (not .Values.timescaledb.enabled) }}default{{ else }}{{ include "vigil.serviceAccountName" . }}{{ end }}
{{- end }}

{{/* A one-off pod running `vigil archive list` with the lifecycle service's identity, database and
     archive settings, and its network access (its labels): for NOTES and the runbook. */}}
{{- define "vigil.archiveListPod" -}}
{{- $m := .Values.lifecycle }}
metadata:
  labels:
    {{- include "vigil.selectorLabels" (dict "root" . "component" "lifecycle") | trim | nindent 4 }}
spec:
  serviceAccountName: {{ include "vigil.lifecycleServiceAccountName" . }}
  automountServiceAccountToken: false
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: vigil-cli
      image: {{ include "vigil.image" (dict "root" . "image" .Values.cli.image) | quote }}
      args: [archive, list]
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      env:
        {{- include "vigil.env.database" . | trim | nindent 8 }}
        {{- include "vigil.env.config" (pick $m.config "ARCHIVE_URL" "ARCHIVE_S3_ENDPOINT" "ARCHIVE_S3_REGION" "ARCHIVE_S3_FORCE_PATH_STYLE") | trim | nindent 8 }}
        {{- with include "vigil.env.archiveCredentials" . | trim }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- if $m.archive.existingClaim }}
      volumeMounts:
        - { name: archive, mountPath: {{ $m.archive.mountPath }}, readOnly: true }
  volumes:
    - name: archive
      persistentVolumeClaim: { claimName: {{ $m.archive.existingClaim }}, readOnly: true }
      {{- end }}
{{- end }}

{{/* TLS ---------------------------------------------------------------------------------- */}}

{{/* Where every Vigil container finds its certificate (the TLS Secret, mounted read-only). */}}
{{- define "vigil.tlsDir" -}}/etc/vigil/tls{{- end }}

{{- define "vigil.tlsSecretName" -}}
{{- if .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "vigil.fullname" .) }}
{{- end }}
{{- end }}

{{/* The services' TLS settings: the mounted Secret's files, or plaintext allowed (TLS off). */}}
{{- define "vigil.env.tls" -}}
{{- $t := .Values.tls }}
- name: TLS_CERT_FILE
  value: {{ ternary (printf "%s/tls.crt" (include "vigil.tlsDir" .)) "" $t.enabled | quote }}
- name: TLS_KEY_FILE
  value: {{ ternary (printf "%s/tls.key" (include "vigil.tlsDir" .)) "" $t.enabled | quote }}
- name: TLS_RELOAD_INTERVAL_MS
  value: {{ $t.reloadIntervalMs | int64 | toString | quote }}
- name: ALLOW_PLAINTEXT
  value: {{ ternary "false" "true" $t.enabled | quote }}
{{- end }}

{{/* The Secret as a volume (not subPath: a subPath mount never sees the Secret's updates). */}}
{{- define "vigil.tlsVolume" -}}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "vigil.tlsSecretName" . }}
    # 0440: YAML 1.1 and 1.2 read a leading-zero number differently, so it is written in decimal.
    defaultMode: 288
{{- end }}
{{- end }}

{{- define "vigil.tlsMount" -}}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: {{ include "vigil.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* HTTPS or HTTP, for probes and scrapes of Vigil's ports. */}}
{{- define "vigil.scheme" -}}{{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}{{- end }}

{{/* Every in-cluster name of the receiver's and the query service's Services. */}}
{{- define "vigil.serviceDnsNames" -}}
{{- $ns := .Release.Namespace }}
{{- range $c := concat (list "receiver" "query") (ternary (list "nats") (list) (eq (include "vigil.natsClusterTls" $) "true")) }}
{{- $svc := include "vigil.componentName" (dict "root" $ "component" $c) }}
- {{ $svc }}
- {{ printf "%s.%s" $svc $ns }}
- {{ printf "%s.%s.svc" $svc $ns }}
- {{ printf "%s.%s.svc.cluster.local" $svc $ns }}
{{- end }}
{{- end }}

{{/* Prometheus scrapes pods by IP: it verifies the release's certificate against its CA under the query Service's name (one certificate serves every component). */}}
{{- define "vigil.serviceMonitorTls" -}}
{{- if .Values.tls.enabled }}
scheme: https
tlsConfig:
  ca:
    secret: { name: {{ include "vigil.tlsSecretName" . }}, key: ca.crt }
  serverName: {{ include "vigil.componentName" (dict "root" . "component" "query") }}
{{- end }}
{{- end }}

{{/* The database server's CA (database.tls.caSecret), for sslrootcert= in DATABASE_URL. */}}
{{/* The query service's OpenID Connect client secret (query.auth.oidcClientSecretSecret), as a file. */}}
{{- define "vigil.oidcSecretVolume" -}}
{{- with .Values.query.auth.oidcClientSecretSecret }}
- name: oidc-client-secret
  secret:
    secretName: {{ . }}
    defaultMode: 0400
{{- end }}
{{- end }}

{{- define "vigil.oidcSecretMount" -}}
{{- if .Values.query.auth.oidcClientSecretSecret }}
- name: oidc-client-secret
  mountPath: /etc/vigil/oidc
  readOnly: true
{{- end }}
{{- end }}

{{/* The query pods' way out to the OpenID Connect provider, when single sign-on is on. */}}
{{- define "vigil.egress.oidc" -}}
{{- $a := .Values.query.auth }}
{{- if .Values.query.config.OIDC_ISSUER_URL }}
- ports:
    {{- range $a.oidcProviderPorts }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
  {{- with $a.oidcProviderTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "vigil.dbCaVolume" -}}
{{- with .Values.database.tls.caSecret }}
- name: db-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}

{{- define "vigil.dbCaMount" -}}
{{- if .Values.database.tls.caSecret }}
- name: db-ca
  mountPath: /etc/vigil/db-ca
  readOnly: true
{{- end }}
{{- end }}
