{{/* The release's full name, at most 63 characters. */}}
{{- define "spoke.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spoke.name" -}}
{{- default .Release.Name .Values.name -}}
{{- end -}}

{{- define "spoke.stepsNamespace" -}}
{{- default (printf "%s-steps" .Release.Namespace) .Values.steps.namespace -}}
{{- end -}}

{{- define "spoke.serviceAccount" -}}
{{- default (include "spoke.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "spoke.selectorLabels" -}}
app.kubernetes.io/name: switchyard-spoke
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spoke.labels" -}}
{{ include "spoke.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "spoke.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The join token's Secret must exist when the chart is installed on a cluster
(helm template and --dry-run=client cannot look, so they do not check).
*/}}
{{- define "spoke.checkTokenSecret" -}}
{{- if lookup "v1" "Namespace" "" .Release.Namespace -}}
{{- $s := lookup "v1" "Secret" .Release.Namespace .Values.joinToken.existingSecret -}}
{{- if not $s -}}
{{- fail (printf "joinToken.existingSecret: there is no Secret %q in namespace %q; create it with the hub's join token first: kubectl -n %s create secret generic %s --from-literal=%s=TOKEN" .Values.joinToken.existingSecret .Release.Namespace .Release.Namespace .Values.joinToken.existingSecret .Values.joinToken.key) -}}
{{- end -}}
{{- if not (index ($s.data | default dict) .Values.joinToken.key) -}}
{{- fail (printf "joinToken.key: Secret %q has no key %q (set joinToken.key to the key that holds the token)" .Values.joinToken.existingSecret .Values.joinToken.key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
