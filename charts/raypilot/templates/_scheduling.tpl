{{/*
A component's affinity: the user's affinity with the podAntiAffinity term
of podAntiAffinity (soft: preferred, weight 100; hard: required; none:
nothing) over kubernetes.io/hostname appended to the user's own terms of the
same kind, so no user term is ever dropped. Call with
(dict "ctx" $ "component" "webhook" "mode" "soft" "affinity" $map).
*/}}
{{- define "raypilot.affinity" -}}
{{- $affinity := deepCopy (default dict .affinity) -}}
{{- if ne .mode "none" -}}
{{- $selector := include "raypilot.selectorLabels" (dict "ctx" .ctx "component" .component) | fromYaml -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" $selector) -}}
{{- $key := "preferredDuringSchedulingIgnoredDuringExecution" -}}
{{- if eq .mode "hard" -}}
{{- $key = "requiredDuringSchedulingIgnoredDuringExecution" -}}
{{- else -}}
{{- $term = dict "weight" 100 "podAffinityTerm" $term -}}
{{- end -}}
{{- $anti := default dict $affinity.podAntiAffinity -}}
{{- $_ := set $anti $key (append (default list (get $anti $key)) $term) -}}
{{- $_ := set $affinity "podAntiAffinity" $anti -}}
{{- end -}}
{{- with $affinity }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/*
A component's topologySpreadConstraints; a constraint without a
labelSelector gets the component's selector labels (the pods it spreads).
Call with (dict "ctx" $ "component" "webhook" "constraints" $list).
*/}}
{{- define "raypilot.topologySpreadConstraints" -}}
{{- $out := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not $c.labelSelector -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "raypilot.selectorLabels" (dict "ctx" $.ctx "component" $.component) | fromYaml)) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- with $out }}{{ toYaml . }}{{ end -}}
{{- end -}}
