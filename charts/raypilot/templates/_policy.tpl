{{/*
The policy document the webhook and the scaler parse (defaults/policy.go).
An empty defaults.autoscaling.mode becomes "central" when the scaler is
installed and "in-tree" otherwise: installing the scaler hands autoscaled
clusters to it, and without it KubeRay's in-tree autoscaler keeps the job.
*/}}
{{- define "raypilot.policy" -}}
{{- $policy := deepCopy (default dict .Values.policy) -}}
{{- $defaults := default dict $policy.defaults -}}
{{- $autoscaling := default dict $defaults.autoscaling -}}
{{- if not $autoscaling.mode -}}
{{- $_ := set $autoscaling "mode" (ternary "central" "in-tree" (and .Values.scaler.enabled true)) -}}
{{- end -}}
{{- $_ := set $defaults "autoscaling" $autoscaling -}}
{{- $_ := set $policy "defaults" $defaults -}}
{{- range $i, $field := (default list $policy.enforce) -}}
{{- $value := get $defaults $field -}}
{{- if not $value -}}
{{- fail (printf "policy.enforce[%d]: %q is enforced but policy.defaults.%s is not set; set a default or drop it from enforce" $i $field $field) -}}
{{- end -}}
{{- end -}}
{{- toYaml $policy -}}
{{- end -}}

{{/*
"true" when KubeRay API server ConfigMap templates count
(policy.limits.readAPIServerConfigMaps, default true), so the webhook reads
ConfigMaps labelled ray.io/config-type=compute-template.
*/}}
{{- define "raypilot.configMapTemplates" -}}
{{- $limits := default dict .Values.policy.limits -}}
{{- if or (not (hasKey $limits "readAPIServerConfigMaps")) $limits.readAPIServerConfigMaps -}}true{{- end -}}
{{- end -}}
