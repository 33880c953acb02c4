{{/*
Grants rules to one of the chart's ServiceAccounts. Without watchNamespaces:
one ClusterRole <name> with clusterRules and namespacedRules, and its
ClusterRoleBinding. With watchNamespaces: the ClusterRole holds only
clusterRules (cluster-scoped resources, which a Role cannot grant), and
each watched namespace gets a Role <name> with namespacedRules and its
RoleBinding. Rules are YAML list text (comments kept); an empty set renders
no role. Call with (dict "ctx" $ "name" $name "component" "scaler"
"serviceAccount" $sa "clusterRules" $text "namespacedRules" $text).
*/}}
{{- define "raypilot.scopedRBAC" -}}
{{- $ctx := .ctx -}}
{{- $labels := include "raypilot.labels" (dict "ctx" $ctx "component" .component) -}}
{{- $watch := $ctx.Values.watchNamespaces -}}
{{- $clusterRules := trim .clusterRules -}}
{{- $namespacedRules := trim .namespacedRules -}}
{{- if not $watch -}}
{{- $clusterRules = trim (printf "%s\n%s" $clusterRules $namespacedRules) -}}
{{- end -}}
{{- $docs := list -}}
{{- if $clusterRules -}}
{{- $docs = append $docs (include "raypilot.roleAndBinding" (dict "kind" "ClusterRole" "name" .name "labels" $labels "rules" $clusterRules "serviceAccount" .serviceAccount "saNamespace" $ctx.Release.Namespace)) -}}
{{- end -}}
{{- if and $watch $namespacedRules -}}
{{- range $watch -}}
{{- $docs = append $docs (include "raypilot.roleAndBinding" (dict "kind" "Role" "namespace" . "name" $.name "labels" $labels "rules" $namespacedRules "serviceAccount" $.serviceAccount "saNamespace" $ctx.Release.Namespace)) -}}
{{- end -}}
{{- end -}}
{{- join "\n---\n" $docs -}}
{{- end -}}

{{/* A ClusterRole or Role and its binding to one ServiceAccount; see raypilot.scopedRBAC. */}}
{{- define "raypilot.roleAndBinding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}
metadata:
  name: {{ .name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- .labels | nindent 4 }}
rules:
{{ .rules }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}Binding
metadata:
  name: {{ .name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- .labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ .name }}
subjects:
- kind: ServiceAccount
  name: {{ .serviceAccount }}
  namespace: {{ .saNamespace }}
{{- end -}}
