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

{{- define "raypilot.webhookName" -}}{{ include "raypilot.fullname" . }}-webhook{{- end -}}
{{- define "raypilot.scalerName" -}}{{ include "raypilot.fullname" . }}-scaler{{- end -}}
{{/* The Ray client's ClusterRole (or Roles): its tokens go to Ray GCSes with Kubernetes token authentication (scaler.rayKubernetesAuth.enabled). */}}
{{- define "raypilot.rayClientName" -}}{{ include "raypilot.fullname" . }}-ray-client{{- end -}}
{{- define "raypilot.policyName" -}}{{ include "raypilot.fullname" . }}-policy{{- end -}}
{{/* Both webhook configurations share this name (one is mutating, one validating). */}}
{{- define "raypilot.webhookConfigName" -}}{{ include "raypilot.fullname" . }}{{- end -}}

{{/*
ServiceAccounts: <component>.serviceAccount.name, else the component's
object name, whether or not the chart creates it (serviceAccount.create).
*/}}
{{- define "raypilot.webhookServiceAccountName" -}}
{{- default (include "raypilot.webhookName" .) .Values.webhook.serviceAccount.name -}}
{{- end -}}
{{- define "raypilot.scalerServiceAccountName" -}}
{{- default (include "raypilot.scalerName" .) .Values.scaler.serviceAccount.name -}}
{{- end -}}
{{- define "raypilot.rayClientServiceAccountName" -}}
{{- default (include "raypilot.rayClientName" .) .Values.scaler.rayKubernetesAuth.serviceAccount.name -}}
{{- end -}}

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

{{/* The scaler's leader-election Lease (--leader-elect-resource-name; the binary's default name). */}}
{{- define "raypilot.scalerLeaseName" -}}raypilot-scaler{{- end -}}

{{/* The self-managed certificate controller runs only without cert-manager. */}}
{{- define "raypilot.selfManaged" -}}
{{- if not .Values.certManager.enabled -}}true{{- end -}}
{{- end -}}
