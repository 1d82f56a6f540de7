{{/* The release's name prefix for every object: the release name, cut to fit. */}}
{{- define "leadwheel.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
The services, in a fixed order, with their ports: the services' own
defaults (services/plumbing/src/config.rs ports; the console's in
services/console/src/config.rs; reporting's download is its gRPC port + 2000,
services/reporting/src/lib.rs). admin serves /healthz, /readyz, /metrics;
reporting's download serves the reports as CSV.
*/}}
{{- define "leadwheel.catalog" -}}
intake: {grpc: 50051, admin: 51051, http: 8080, store: true}
wheel: {grpc: 50052, admin: 51052, store: true}
opportunity: {grpc: 50053, admin: 51053, store: true}
alerting: {grpc: 50054, admin: 51054, store: true}
reporting: {grpc: 50055, admin: 51055, download: 52055, store: true}
console: {admin: 51056, http: 8090, store: false}
{{- end -}}

{{- define "leadwheel.order" -}}
[intake, wheel, opportunity, alerting, reporting, console]
{{- end -}}

{{/* A service's settings: its own entry over the shared defaults. Arguments: (list $ "wheel"). */}}
{{- define "leadwheel.settings" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $own := deepCopy (index $root.Values.services $name) -}}
{{- toYaml (mustMergeOverwrite (deepCopy $root.Values.defaults) $own) -}}
{{- end -}}

{{- define "leadwheel.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{ include "leadwheel.selectorLabels" . }}
{{- end -}}

{{- define "leadwheel.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: leadwheel
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "leadwheel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "leadwheel.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The worst case of a service's shutdown after SIGTERM, in whole seconds
(services/plumbing/src/runtime.rs, Runtime::serve): the front doors drain
(up to T), the background tasks stop (up to T), the outbox relay's last
flush (up to T/2), the NATS drain (up to 5 s); T is
LEADWHEEL_SHUTDOWN_TIMEOUT_MS. ceil(2.5 T) + 5. deploy/policy.py checks
this model against runtime.rs and the rendered grace periods against it.
*/}}
{{- define "leadwheel.shutdownSeconds" -}}
{{- $t := int .Values.shutdown.timeoutMs -}}
{{- add (div (add (mul $t 5) 1999) 2000) 5 -}}
{{- end -}}

{{- define "leadwheel.gracePeriod" -}}
{{- $min := add (int .Values.shutdown.preStopSleepSeconds) (int (include "leadwheel.shutdownSeconds" .)) -}}
{{- $set := .Values.shutdown.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $set -}}
{{- add $min 5 -}}
{{- else if lt (int $set) $min -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds=%d is shorter than the preStop sleep plus the shutdown stages (%d s); raise it or lower shutdown.timeoutMs" (int $set) $min) -}}
{{- else -}}
{{- int $set -}}
{{- end -}}
{{- end -}}

{{- define "leadwheel.scoringRules" -}}
{{- default (.Files.Get "files/scoring.toml") .Values.services.intake.scoringRules -}}
{{- end -}}
