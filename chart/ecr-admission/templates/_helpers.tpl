{{/* Names, labels and the few derived values more than one template needs. */}}

{{- define "ecr-admission.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix; 52 characters leave room for the longest suffix ("-selfsigned"). */}}
{{- define "ecr-admission.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ecr-admission.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecr-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The webhook pods only: the helm test pod shares the selector labels, not the component. */}}
{{- define "ecr-admission.webhookSelectorLabels" -}}
{{ include "ecr-admission.selectorLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "ecr-admission.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ecr-admission.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ecr-admission.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecr-admission.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ecr-admission.image" -}}
{{- $repository := required "image.repository is required: there is no published ecr-admission image. Build it from this repository's Dockerfile, push it to your registry, and set image.repository (e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/ecr-admission) and image.digest" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Secret holding tls.crt / tls.key (and ca.crt), made by cert-manager or by the chart. */}}
{{- define "ecr-admission.tlsSecretName" -}}
{{- printf "%s-tls" (include "ecr-admission.fullname" .) }}
{{- end }}

{{/* DNS names the API server may use for the Service; it calls <svc>.<ns>.svc. */}}
{{- define "ecr-admission.serviceDNSNames" -}}
{{- $svc := include "ecr-admission.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) (printf "%s.%s" $svc $ns) $svc | toJson }}
{{- end }}

{{/*
The admission budget the server spends on one review: the API server's timeout less 2 s for
the network and the response, never below 1 s. The server stops waiting on AWS at the budget
and applies onError, so the API server never times out first.
*/}}
{{- define "ecr-admission.budgetMs" -}}
{{- max 1000 (sub (mul (int .Values.webhook.timeoutSeconds) 1000) 2000) }}
{{- end }}

{{/* Namespaces the API server never sends to the webhook: the release namespace and
webhook.excludeNamespaces (the schema keeps kube-system in it). */}}
{{- define "ecr-admission.excludedNamespaces" -}}
{{- concat (list .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | toJson }}
{{- end }}

{{- define "ecr-admission.trustVolumeEnabled" -}}
{{- if or .Values.trustStores.pems .Values.trustStores.existingConfigMap .Values.trustStores.existingSecret }}true{{ end }}
{{- end }}

{{/* Pod and container security settings shared by the webhook, sandbox and test pods. */}}
{{- define "ecr-admission.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ecr-admission.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}
