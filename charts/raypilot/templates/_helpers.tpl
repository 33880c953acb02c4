{{/* The chart name, overridable. */}}
{{- define "raypilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name. Cluster-scoped objects (ClusterRoles,
webhook configurations) carry it too, so two releases never collide.
*/}}
{{- define "raypilot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "raypilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "raypilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: raypilot
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "webhook"). */}}
{{- define "raypilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "raypilot.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image reference; the tag defaults to the chart's appVersion. */}}
{{- define "raypilot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "raypilot.webhookName" -}}{{ include "raypilot.fullname" . }}-webhook{{- end -}}
{{- define "raypilot.scalerName" -}}{{ include "raypilot.fullname" . }}-scaler{{- end -}}
{{/* The Ray client ServiceAccount: its tokens go to Ray GCSes with Kubernetes token authentication (scaler.rayKubernetesAuth.enabled). */}}
{{- define "raypilot.rayClientName" -}}{{ include "raypilot.fullname" . }}-ray-client{{- end -}}
{{- define "raypilot.policyName" -}}{{ include "raypilot.fullname" . }}-policy{{- end -}}
{{/* Both webhook configurations share this name (one is mutating, one validating). */}}
{{- define "raypilot.webhookConfigName" -}}{{ include "raypilot.fullname" . }}{{- end -}}

{{/* The Secret holding the serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "raypilot.certSecretName" -}}
{{- if .Values.certManager.enabled -}}
{{- include "raypilot.fullname" . }}-webhook-tls
{{- else -}}
{{- default (printf "%s-webhook-tls" (include "raypilot.fullname" .)) .Values.selfManagedCerts.secretName -}}
{{- end -}}
{{- end -}}

{{/* The Lease of the self-managed certificate writer (the binary's default name is the same). */}}
{{- define "raypilot.webhookLeaseName" -}}{{ include "raypilot.certSecretName" . }}-writer{{- end -}}

{{/* The self-managed certificate controller runs only without cert-manager. */}}
{{- define "raypilot.selfManaged" -}}
{{- if not .Values.certManager.enabled -}}true{{- end -}}
{{- end -}}

{{/* Namespaces whose Ray objects never reach the webhook: kube-system, the release's own, and webhook.excludedNamespaces. */}}
{{- define "raypilot.excludedNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- range .Values.webhook.excludedNamespaces -}}
{{- $ns = append $ns . -}}
{{- end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

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

{{/* Pod-level securityContext shared by both Deployments. */}}
{{- define "raypilot.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level securityContext shared by both Deployments. */}}
{{- define "raypilot.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

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
Checks across values that the schema cannot express; each failure names the
values and what to do.
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

{{/* Rules, scope and call settings both webhooks share. Call with (dict "ctx" $ "excluded" (include "raypilot.excludedNamespaces" $)). */}}
{{- define "raypilot.webhookMatch" -}}
rules:
- apiGroups: ["ray.io"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["rayclusters", "rayjobs", "rayservices"]
  scope: Namespaced
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ .excluded }}
matchPolicy: Equivalent
sideEffects: None
admissionReviewVersions: ["v1"]
timeoutSeconds: {{ .ctx.Values.webhook.timeoutSeconds }}
{{- end -}}
