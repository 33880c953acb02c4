{{/* The labels the chart itself sets on every object. */}}
{{- define "raypilot.chartLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "raypilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: raypilot
{{- end -}}

{{/*
Label keys commonLabels and podLabels may not set: the chart's own, which
selectors, the ServiceMonitor and `helm uninstall` rely on.
*/}}
{{- define "raypilot.reservedLabelKeys" -}}
{{- $keys := keys (include "raypilot.chartLabels" . | fromYaml) -}}
{{- toJson (concat $keys (list "app.kubernetes.io/component" "raypilot.io/metrics") | sortAlpha) -}}
{{- end -}}

{{/*
Labels of one object: commonLabels, the chart's, app.kubernetes.io/component
when given, then extra (e.g. metrics.serviceMonitor.labels), which wins over
commonLabels. Call with (dict "ctx" $ "component" "webhook" "extra" $map);
component and extra are optional.
*/}}
{{- define "raypilot.labels" -}}
{{- $labels := deepCopy (default dict .ctx.Values.commonLabels) -}}
{{- $labels = mergeOverwrite $labels (include "raypilot.chartLabels" .ctx | fromYaml) -}}
{{- with .component -}}
{{- $_ := set $labels "app.kubernetes.io/component" . -}}
{{- end -}}
{{- $labels = mergeOverwrite $labels (deepCopy (default dict .extra)) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "webhook"). */}}
{{- define "raypilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "raypilot.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Labels of one component's pods: its selector labels, commonLabels, then the
component's podLabels. Not the chart's version labels: a chart upgrade alone
must not roll the pods. Call with (dict "ctx" $ "component" "webhook" "podLabels" $map).
*/}}
{{- define "raypilot.podLabels" -}}
{{- $labels := deepCopy (default dict .ctx.Values.commonLabels) -}}
{{- $labels = mergeOverwrite $labels (deepCopy (default dict .podLabels)) -}}
{{- $labels = mergeOverwrite $labels (include "raypilot.selectorLabels" . | fromYaml) -}}
{{- toYaml $labels -}}
{{- end -}}
