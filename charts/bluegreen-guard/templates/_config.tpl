{{/* The config files the two processes read with `--config`, generated from values. */}}

{{- /*
The one `mesh` section both files carry. The webhook.rules keys it replaces
still count: each wins over a `mesh` value left at its default, and fails the
install when `mesh` says something else.
*/ -}}
{{- define "bgg.mesh" -}}
{{- $m := .Values.mesh -}}
{{- $rules := .Values.webhook.rules | default dict -}}
{{- $defaults := dict "defaultStableSubset" "green" "clusterDomain" "cluster.local" "rootNamespace" "istio-system" -}}
{{- $mesh := dict "defaultStableSubset" $m.defaultStableSubset "clusterDomain" $m.clusterDomain "rootNamespace" $m.rootNamespace "guardLabel" $m.guardLabel "versionLabel" $m.versionLabel -}}
{{- range $field, $default := $defaults -}}
{{- $old := get $rules $field -}}
{{- if $old -}}
{{- $new := get $mesh $field -}}
{{- if and (ne $new $default) (ne $new $old) -}}
{{- fail (printf "webhook.rules.%s (%s) and mesh.%s (%s) disagree; the webhook and the watcher must read the same value: remove webhook.rules.%s and keep mesh.%s" $field $old $field $new $field $field) -}}
{{- end -}}
{{- $_ := set $mesh $field $old -}}
{{- end -}}
{{- end -}}
{{ toYaml $mesh }}
{{- end }}

{{- /* Deprecated webhook.rules keys in use, for NOTES.txt. */ -}}
{{- define "bgg.mesh.deprecated" -}}
{{- $rules := .Values.webhook.rules | default dict -}}
{{- range $field := list "rootNamespace" "clusterDomain" "defaultStableSubset" -}}
{{- if get $rules $field }}
  webhook.rules.{{ $field }} is deprecated: set mesh.{{ $field }} instead (both processes read it).
{{- end -}}
{{- end -}}
{{- end }}

{{- define "bgg.webhook.config" -}}
{{- $w := .Values.webhook -}}
{{- $webhook := dict
  "logLevel" .Values.logLevel
  "admission" (dict "host" "0.0.0.0" "port" ($w.port | int) "path" "/validate"
    "bodyLimitBytes" ($w.admission.bodyLimitBytes | int)
    "workBound" (dict "maxRoutes" ($w.admission.workBound.maxRoutes | int) "maxDestinations" ($w.admission.workBound.maxDestinations | int) "maxMatches" ($w.admission.workBound.maxMatches | int))
    "maxConcurrentReviews" ($w.admission.maxConcurrentReviews | int)
    "maxQueuedReviews" ($w.admission.maxQueuedReviews | int)
    "handshakeTimeoutMs" ($w.admission.handshakeTimeoutMs | int)
    "maxConnections" ($w.admission.maxConnections | int))
  "metrics" (dict "host" .Values.metrics.bindAddress "port" ($w.metricsPort | int))
  "tls" (dict "certFile" "/etc/bluegreen-guard/tls/tls.crt" "keyFile" "/etc/bluegreen-guard/tls/tls.key")
  "kubernetes" (dict "cacheScope" $w.cacheScope)
  "shutdownGraceSeconds" ($w.shutdownGraceSeconds | int)
  "prometheus" (dict "url" (include "bgg.webhook.prometheusUrl" . | default nil))
  "mesh" (include "bgg.mesh" . | fromYaml)
  "rules" (dict
    "modes" $w.rules.modes
    "canaryMaxWeightPercent" $w.rules.canaryMaxWeightPercent
    "watcherUsernames" (list (include "bgg.watcher.username" .))
    "breakGlassGroups" $w.rules.breakGlassGroups
    "restartWindowSeconds" ($w.rules.restartWindowSeconds | int)
    "jobLabels" $w.rules.jobLabels
    "probePaths" $w.rules.probePaths
    "latchAckGroups" $w.rules.latchAckGroups)
-}}
{{- $webhook = mustMergeOverwrite $webhook (deepCopy $w.extraConfig) -}}
{{ toYaml $webhook }}
{{- end }}

{{- define "bgg.watcher.config" -}}
{{- $a := .Values.watcher -}}
{{- $watcher := dict
  "intervalSeconds" $a.intervalSeconds
  "dryRun" $a.dryRun
  "prometheusUrl" (default nil $a.prometheusUrl)
  "prometheusTimeoutMs" ($a.prometheusTimeoutMs | int)
  "alertmanagerUrl" (default nil $a.alertmanagerUrl)
  "alertmanagerTimeoutMs" ($a.alertmanagerTimeoutMs | int)
  "errorRate" $a.errorRate
  "latencyP99" $a.latencyP99
  "earlyWindow" $a.earlyWindow
  "holdSeconds" $a.holdSeconds
  "noData" $a.noData
  "blind" $a.blind
  "smokeTest" (dict "url" (default nil $a.smokeTest.url) "expectedStatus" ($a.smokeTest.expectedStatus | int) "timeoutMs" ($a.smokeTest.timeoutMs | int))
  "alerts" (dict "extraLabels" $a.alerts.extraLabels)
  "lease" (dict
    "name" (include "bgg.watcher.name" .)
    "namespace" .Release.Namespace
    "durationSeconds" ($a.lease.durationSeconds | int)
    "renewDeadlineSeconds" $a.lease.renewDeadlineSeconds
    "retryPeriodSeconds" $a.lease.retryPeriodSeconds)
  "promotion" $a.promotion
  "latch" $a.latch
  "mesh" (include "bgg.mesh" . | fromYaml)
  "recovery" $a.recovery
  "drills" $a.drills
-}}
{{- if $a.recordingRules.enabled -}}
{{- $_ := set $watcher "queries" (dict "recordingRules" true) -}}
{{- end -}}
{{- $watcher = mustMergeOverwrite $watcher (deepCopy $a.extraConfig) -}}
{{ toYaml $watcher }}
{{- end }}

{{- define "bgg.tls.config" -}}
{{- $s := .Values.tls.selfManaged -}}
{{- $name := include "bgg.webhook.name" . -}}
{{- $cfg := dict
  "logLevel" .Values.logLevel
  "secret" (dict "namespace" .Release.Namespace "name" (include "bgg.webhook.tlsSecret" .))
  "webhookConfiguration" (include "bgg.fullname" .)
  "dnsNames" (list $name (printf "%s.%s" $name .Release.Namespace) (include "bgg.webhook.serviceDns" .) (printf "%s.%s" (include "bgg.webhook.serviceDns" .) (include "bgg.mesh" . | fromYaml).clusterDomain))
  "outDir" "/etc/bluegreen-guard/tls"
  "caValidityDays" ($s.caValidityDays | int)
  "certValidityDays" ($s.certValidityDays | int)
  "renewBeforeDays" ($s.renewBeforeDays | int)
  "checkIntervalSeconds" ($s.checkIntervalSeconds | int)
  "healthPort" (.Values.webhook.tlsHealthPort | int)
-}}
{{ toYaml $cfg }}
{{- end }}

{{- define "bgg.webhook.prometheusUrl" -}}
{{- $url := .Values.webhook.prometheusUrl | default .Values.watcher.prometheusUrl -}}
{{- if ne $url "-" }}{{ $url }}{{ end -}}
{{- end }}
