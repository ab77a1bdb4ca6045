{{/* Names: <fullname>-webhook and <fullname>-watcher, within 63 characters. */}}
{{- define "bgg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bgg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "bgg.webhook.name" -}}{{ include "bgg.fullname" . }}-webhook{{- end }}
{{- define "bgg.watcher.name" -}}{{ include "bgg.fullname" . }}-watcher{{- end }}
{{- define "bgg.webhook.tlsSecret" -}}
{{- if eq .Values.tls.mode "secret" }}{{ .Values.tls.secret.name }}{{ else }}{{ include "bgg.webhook.name" . }}-tls{{ end }}
{{- end }}
{{- define "bgg.webhook.serviceDns" -}}{{ include "bgg.webhook.name" . }}.{{ .Release.Namespace }}.svc{{- end }}
{{- define "bgg.watcher.username" -}}system:serviceaccount:{{ .Release.Namespace }}:{{ include "bgg.watcher.name" . }}{{- end }}

{{- define "bgg.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "bgg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bluegreen-guard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: include with (list $ "webhook"). */}}
{{- define "bgg.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "bgg.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "bgg.componentLabels" -}}
{{ include "bgg.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "bgg.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ default .Chart.AppVersion $img.tag }}
{{- end -}}
{{- end }}

{{/* The restricted Pod Security Standard, for both processes. */}}
{{- define "bgg.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "bgg.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Spread across nodes (hard) and zones (soft) unless the user gives their own. */}}
{{- define "bgg.topologySpread" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $own := index . 2 -}}
{{- if $own }}
{{ toYaml $own }}
{{- else }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: DoNotSchedule
  labelSelector:
    matchLabels:
      {{- include "bgg.selectorLabels" (list $root $component) | nindent 6 }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "bgg.selectorLabels" (list $root $component) | nindent 6 }}
{{- end }}
{{- end }}

{{- define "bgg.metricsAnnotations" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/*
What every entry of the ValidatingWebhookConfiguration shares: where the
webhook is, how long the API server waits and what it does when the webhook
cannot answer, and which namespaces and objects are reviewed.
Call with (list . $namespaceSelector).
*/}}
{{- define "bgg.webhook.entry" -}}
{{- $ := index . 0 -}}
{{- $selector := index . 1 -}}
{{- $w := $.Values.webhook -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ $w.failurePolicy }}
timeoutSeconds: {{ $w.timeoutSeconds }}
matchPolicy: Equivalent
clientConfig:
  service:
    name: {{ include "bgg.webhook.name" $ }}
    namespace: {{ $.Release.Namespace }}
    path: /validate
    port: {{ $w.service.port }}
  {{- if eq $.Values.tls.mode "secret" }}
  caBundle: {{ $.Values.tls.secret.caBundle }}
  {{- end }}
  {{- /* certManager and selfManaged: caBundle is written by cert-manager's
  injector or by the webhook pods; leaving the field out of the manifest
  keeps `helm upgrade` from erasing it. */}}
namespaceSelector:
  {{- toYaml $selector | nindent 2 }}
{{- with $w.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The watcher's writes never wait on the webhook, and are never refused when
it is unreachable, whatever the failurePolicy. */}}
{{- /* For VirtualServices: the watcher's writes are exempt, but not a drill's raise of a
candidate (it carries bluegreen-guard.io/drill-in-progress): that is a cutover like anyone's. */ -}}
{{- define "bgg.webhook.notTheWatcherUnlessDrill" -}}
- name: not-the-watcher-unless-a-drill
  expression: >-
    request.userInfo.username != {{ include "bgg.watcher.username" . | squote }} ||
    (object != null && has(object.metadata.annotations) && 'bluegreen-guard.io/drill-in-progress' in object.metadata.annotations)
{{- end -}}

{{- define "bgg.webhook.notTheWatcher" -}}
- name: not-the-watcher
  expression: request.userInfo.username != {{ include "bgg.watcher.username" . | squote }}
{{- end -}}
