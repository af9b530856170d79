{{/* The chart's name. */}}
{{- define "quarterdeck.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, the prefix of every object. */}}
{{- define "quarterdeck.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "quarterdeck.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "quarterdeck.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "quarterdeck.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "quarterdeck.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "quarterdeck.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: quarterdeck
{{- end -}}

{{/* Selector labels of a component: (dict "root" $ "component" "budget"). */}}
{{- define "quarterdeck.selector" -}}
app.kubernetes.io/name: {{ include "quarterdeck.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quarterdeck.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "quarterdeck.image" -}}
{{ printf "%s:%s" .Values.image.repository (include "quarterdeck.tag" .) }}
{{- end -}}

{{/* The Secret with the identity keys and the bootstrap key. */}}
{{- define "quarterdeck.secretName" -}}
{{- default (include "quarterdeck.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The Secret and key of the database URL. */}}
{{- define "quarterdeck.databaseSecretName" -}}
{{- default (include "quarterdeck.secretName" .) .Values.database.existingSecret -}}
{{- end -}}
{{- define "quarterdeck.databaseSecretKey" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecretKey }}{{- else -}}database-url{{- end -}}
{{- end -}}

{{/* A component's in-cluster gRPC target: (dict "root" $ "name" "budget" "port" 9001). The
headless Service resolves to every ready replica, over which callers balance round-robin. */}}
{{- define "quarterdeck.target" -}}
{{ printf "dns:///%s-%s:%v" (include "quarterdeck.fullname" .root) .name .port }}
{{- end -}}

{{- define "quarterdeck.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "quarterdeck.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The settings every component takes: telemetry, NATS, shutdown, TLS files, the pod's identity
for OpenTelemetry. (dict "root" $ "component" "budget") */}}
{{- define "quarterdeck.commonEnv" -}}
{{- $v := .root.Values -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: GOMEMLIMIT
  valueFrom: {resourceFieldRef: {resource: limits.memory}}
- name: QUARTERDECK_NATS_URL
  value: {{ $v.nats.url | quote }}
- name: QUARTERDECK_EVENT_STREAM_REPLICAS
  value: {{ $v.nats.streamReplicas | quote }}
- name: QUARTERDECK_SHUTDOWN_TIMEOUT
  value: {{ $v.pod.shutdownTimeout | quote }}
- name: QUARTERDECK_LOG_LEVEL
  value: {{ $v.telemetry.logLevel | quote }}
{{- with $v.telemetry.otlpEndpoint }}
- name: QUARTERDECK_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $v.telemetry.tracesSampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with $v.telemetry.tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),service.namespace=%s%s" .root.Release.Name (ternary (printf ",%s" $v.telemetry.resourceAttributes) "" (ne $v.telemetry.resourceAttributes "")) | quote }}
{{- if $v.tls.enabled }}
- name: QUARTERDECK_GRPC_TLS_CERT_FILE
  value: /etc/quarterdeck/tls/tls.crt
- name: QUARTERDECK_GRPC_TLS_KEY_FILE
  value: /etc/quarterdeck/tls/tls.key
- name: QUARTERDECK_GRPC_TLS_CA_FILE
  value: /etc/quarterdeck/tls/ca.crt
{{- end }}
{{- range $name, $value := $v.commonEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* The pod's security context: non-root, the image's user, the runtime's seccomp profile. */}}
{{- define "quarterdeck.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container's security context: no privilege, no escalation, a read-only root. */}}
{{- define "quarterdeck.securityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Scheduling shared by every component: (dict "root" $ "component" "budget"). */}}
{{- define "quarterdeck.scheduling" -}}
{{- $v := .root.Values.pod -}}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $v.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range $v.topologySpreadConstraints }}
  - {{- toYaml . | nindent 4 }}
    labelSelector:
      matchLabels:
        {{- include "quarterdeck.selector" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The lifecycle of every long-running container. */}}
{{- define "quarterdeck.lifecycle" -}}
{{- if gt (int .Values.pod.preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ .Values.pod.preStopSleepSeconds }}
{{- end }}
{{- end -}}

{{/* Volumes of the TLS files, when internal TLS is on: (dict "root" $ "component" "budget"). */}}
{{- define "quarterdeck.tlsVolume" -}}
{{- if .root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ printf "%s-%s-tls" (include "quarterdeck.fullname" .root) .component }}
    defaultMode: 0440
{{- end }}
{{- end -}}
{{- define "quarterdeck.tlsMount" -}}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/quarterdeck/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* The environment of a domain service's container and migration Job:
(dict "root" $ "name" "vendors" "svc" .Values.services.vendors). */}}
{{- define "quarterdeck.serviceEnv" -}}
{{- $root := .root -}}
{{- include "quarterdeck.commonEnv" (dict "root" $root "component" .name) }}
- name: QUARTERDECK_GRPC_ADDR
  value: {{ printf ":%v" .svc.port | quote }}
- name: QUARTERDECK_HEALTH_ADDR
  value: {{ printf ":%v" $root.Values.ports.health | quote }}
- name: QUARTERDECK_METRICS_ADDR
  value: {{ printf ":%v" $root.Values.ports.metrics | quote }}
- name: QUARTERDECK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "quarterdeck.databaseSecretName" $root }}
      key: {{ include "quarterdeck.databaseSecretKey" $root }}
{{- with $root.Values.database.maxConns }}
- name: QUARTERDECK_DATABASE_MAX_CONNS
  value: {{ . | quote }}
{{- end }}
- name: QUARTERDECK_IDENTITY_PUBLIC_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "quarterdeck.secretName" $root }}
      key: identity-public-keys
{{- range .svc.peers }}
{{- $peer := index $root.Values.services . }}
{{- if not $peer }}{{ fail (printf "services.%s.peers names %q, which is not a service" $.name .) }}{{ end }}
{{- if not $peer.enabled }}{{ fail (printf "services.%s calls %s, which is not enabled" $.name .) }}{{ end }}
- name: {{ printf "QUARTERDECK_PEER_%s_ADDR" (upper .) }}
  value: {{ include "quarterdeck.target" (dict "root" $root "name" . "port" $peer.port) | quote }}
{{- end }}
{{- range $k, $v := .svc.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* A cert-manager Certificate for a component's internal TLS: (dict "root" $ "component" "budget").
It names every way the component's Service is dialled, so that callers can check it. */}}
{{- define "quarterdeck.certificate" -}}
{{- $full := include "quarterdeck.fullname" .root -}}
{{- $host := printf "%s-%s" $full .component -}}
{{- $ns := .root.Release.Namespace -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ $host }}
  labels:
    {{- include "quarterdeck.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  secretName: {{ $host }}-tls
  duration: {{ .root.Values.tls.certManager.duration }}
  renewBefore: {{ .root.Values.tls.certManager.renewBefore }}
  commonName: {{ $host }}
  dnsNames:
    - {{ $host }}
    - {{ $host }}.{{ $ns }}
    - {{ $host }}.{{ $ns }}.svc
    - {{ $host }}.{{ $ns }}.svc.cluster.local
  usages: [server auth, client auth, digital signature, key encipherment]
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  issuerRef:
    {{- toYaml .root.Values.tls.certManager.issuerRef | nindent 4 }}
{{- end -}}
