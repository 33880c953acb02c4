{{/* Namespaces whose Ray objects never reach the webhook: kube-system, the release's own, and webhook.excludedNamespaces. */}}
{{- define "raypilot.excludedNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- range .Values.webhook.excludedNamespaces -}}
{{- $ns = append $ns . -}}
{{- end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

{{/*
The namespaceSelector of both webhooks: the excluded namespaces (NotIn),
watchNamespaces (In) when set, then webhook.namespaceSelector's own
matchExpressions and matchLabels; all of them must hold.
*/}}
{{- define "raypilot.namespaceSelector" -}}
{{- $user := default dict .Values.webhook.namespaceSelector -}}
{{- $exprs := list (dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" (include "raypilot.excludedNamespaces" . | fromJsonArray)) -}}
{{- with .Values.watchNamespaces -}}
{{- $exprs = append $exprs (dict "key" "kubernetes.io/metadata.name" "operator" "In" "values" .) -}}
{{- end -}}
{{- $selector := dict "matchExpressions" (concat $exprs (default list $user.matchExpressions)) -}}
{{- with $user.matchLabels -}}
{{- $_ := set $selector "matchLabels" . -}}
{{- end -}}
{{- toYaml $selector -}}
{{- end -}}

{{/* Annotations of both webhook configurations: webhook.configurationAnnotations, and cainjector's with cert-manager. */}}
{{- define "raypilot.webhookConfigAnnotations" -}}
{{- $annotations := deepCopy (default dict .Values.webhook.configurationAnnotations) -}}
{{- if .Values.certManager.enabled -}}
{{- $_ := set $annotations "cert-manager.io/inject-ca-from" (printf "%s/%s-webhook" .Release.Namespace (include "raypilot.fullname" .)) -}}
{{- end -}}
{{- with $annotations }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* clientConfig of one webhook: the url when webhook.clientConfig.url is set (the Service reference is then left out entirely), else the Service. Call with (dict "ctx" $ "path" "/mutate-ray-io-v1"). */}}
{{- define "raypilot.webhookClientConfig" -}}
{{- $w := .ctx.Values.webhook -}}
{{- if $w.clientConfig.url }}
url: {{ printf "%s%s" (trimSuffix "/" $w.clientConfig.url) .path | quote }}
{{- else }}
service:
  name: {{ include "raypilot.webhookName" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  path: {{ .path | quote }}
  port: {{ $w.servicePort }}
{{- end }}
{{- with $w.clientConfig.caBundle }}
caBundle: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Rules, scope and call settings both webhooks share. Call with the root context. */}}
{{- define "raypilot.webhookMatch" -}}
rules:
- apiGroups: ["ray.io"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["rayclusters", "rayjobs", "rayservices"]
  scope: Namespaced
namespaceSelector:
  {{- include "raypilot.namespaceSelector" . | nindent 2 }}
{{- with .Values.webhook.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.webhook.matchConditions }}
matchConditions:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchPolicy: Equivalent
sideEffects: None
admissionReviewVersions: ["v1"]
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
{{- end -}}
