{{/*
Checks across values that the schema cannot express; each failure names the
values and what to do. Rendered once, from webhook-configurations.yaml.
*/}}
{{- define "raypilot.validate" -}}
{{- $w := .Values.webhook -}}
{{- if and (gt (int $w.preStopSleepSeconds) 0) (ge (int $w.preStopSleepSeconds) (int $w.terminationGracePeriodSeconds)) -}}
{{- fail (printf "webhook.preStopSleepSeconds (%d) must be less than webhook.terminationGracePeriodSeconds (%d): the pod would be killed before it stops serving" (int $w.preStopSleepSeconds) (int $w.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- if and $w.clientConfig.caBundle (not $w.clientConfig.url) -}}
{{- fail "webhook.clientConfig.caBundle is used only with webhook.clientConfig.url: with the Service, the CA bundle is injected (self-managed or cert-manager) and a fixed one would be reset on every upgrade" -}}
{{- end -}}
{{- if and $w.clientConfig.caBundle .Values.certManager.enabled -}}
{{- fail "webhook.clientConfig.caBundle and certManager.enabled are exclusive: cert-manager's cainjector would overwrite the fixed bundle" -}}
{{- end -}}
{{- if and .Values.certManager.enabled (hasKey (default dict $w.configurationAnnotations) "cert-manager.io/inject-ca-from") -}}
{{- fail "webhook.configurationAnnotations: cert-manager.io/inject-ca-from is set by the chart with certManager.enabled (it names the chart's Certificate); remove it" -}}
{{- end -}}
{{- $reserved := include "raypilot.reservedLabelKeys" . | fromJsonArray -}}
{{- range $key, $_ := (default dict .Values.commonLabels) -}}
{{- if has $key $reserved -}}
{{- fail (printf "commonLabels: %q is a label the chart sets itself (%s); selectors and `helm uninstall` rely on it" $key (join ", " $reserved)) -}}
{{- end -}}
{{- end -}}
{{- $selectorKeys := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" -}}
{{- range $component := list "webhook" "scaler" -}}
{{- range $key, $_ := (default dict (index $.Values $component).podLabels) -}}
{{- if has $key $selectorKeys -}}
{{- fail (printf "%s.podLabels: %q is one of the Deployment's selector labels (%s), which the chart sets" $component $key (join ", " $selectorKeys)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $excluded := include "raypilot.excludedNamespaces" . | fromJsonArray -}}
{{- range .Values.watchNamespaces -}}
{{- if has . $excluded -}}
{{- fail (printf "watchNamespaces: %q is excluded from the webhook (kube-system, the release namespace and webhook.excludedNamespaces are); install the chart in a namespace of its own" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
