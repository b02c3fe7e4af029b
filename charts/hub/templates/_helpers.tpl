{{/* The release's full name, at most 63 characters. */}}
{{- define "hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hub.selectorLabels" -}}
app.kubernetes.io/name: switchyard-hub
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hub.labels" -}}
{{ include "hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hub.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "hub.serviceAccount" -}}
{{- default (include "hub.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The Secret the chart makes for what the values leave to it. */}}
{{- define "hub.generatedSecret" -}}
{{- printf "%s-generated" (include "hub.fullname" .) -}}
{{- end -}}

{{- define "hub.externalURL" -}}
{{- if .Values.externalURL -}}
{{- .Values.externalURL -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "https://%s" .Values.ingress.host -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" (include "hub.fullname" .) .Release.Namespace .Values.service.port -}}
{{- end -}}
{{- end -}}

{{/*
A generated value, made once: the one the release's Secret already holds
(so upgrades keep it), else a new random one.
*/}}
{{- define "hub.keep" -}}
{{- $ctx := index . 0 -}}{{- $key := index . 1 -}}{{- $fresh := index . 2 -}}
{{- $old := lookup "v1" "Secret" $ctx.Release.Namespace (include "hub.generatedSecret" $ctx) -}}
{{- if and $old (index ($old.data | default dict) $key) -}}
{{- index $old.data $key | b64dec -}}
{{- else -}}
{{- $fresh -}}
{{- end -}}
{{- end -}}

{{/*
A Secret a value names must exist, with the key the chart reads, when the
chart is installed on a cluster (helm template cannot look, so it does not).
*/}}
{{- define "hub.checkSecret" -}}
{{- $ctx := index . 0 -}}{{- $name := index . 1 -}}{{- $key := index . 2 -}}{{- $field := index . 3 -}}
{{- if and $name (lookup "v1" "Namespace" "" $ctx.Release.Namespace) -}}
{{- $s := lookup "v1" "Secret" $ctx.Release.Namespace $name -}}
{{- if not $s -}}
{{- fail (printf "%s: there is no Secret %q in namespace %q; create it first (docs/operating.md says what it holds)" $field $name $ctx.Release.Namespace) -}}
{{- end -}}
{{- if and $key (not (index ($s.data | default dict) $key)) -}}
{{- fail (printf "%s: Secret %q has no key %q" $field $name $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
