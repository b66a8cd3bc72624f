{{/*
Digest pinning's MutatingWebhookConfiguration (webhook-mutating.yaml): whether it is rendered
(mutatingWebhook.enabled, and policy.pinning.mode not off), its name, the server's pinning
budget, and its failurePolicy as rendered.
*/}}
{{- define "ecr-admission.pinWebhookEnabled" -}}
{{- if and .Values.mutatingWebhook.enabled (ne (dig "pinning" "mode" "pods" (default dict .Values.policy)) "off") }}true{{ end }}
{{- end }}

{{- define "ecr-admission.pinWebhookName" -}}
{{- printf "%s-pin" (include "ecr-admission.fullname" .) }}
{{- end }}

{{/* The mutating webhook's timeout: mutatingWebhook.timeoutSeconds, at most one second less
than the validating webhook's (at least 1). */}}
{{- define "ecr-admission.pinTimeoutSeconds" -}}
{{- max 1 (min (int .Values.mutatingWebhook.timeoutSeconds) (sub (int .Values.webhook.timeoutSeconds) 1)) }}
{{- end }}

{{/* ECR_ADMISSION_PIN_BUDGET_MS: the mutating webhook's timeout less 2 s, at least 1 s. */}}
{{- define "ecr-admission.pinBudgetMs" -}}
{{- max 1000 (sub (mul (int (include "ecr-admission.pinTimeoutSeconds" .)) 1000) 2000) }}
{{- end }}

{{/*
Installed Ignore and switched by the webhook process to mutatingWebhook.failurePolicy once it
serves, like the validating one (_tls.tpl renderedFailurePolicy): a render that finds it
switched (lookup) leaves the field out, so `helm upgrade` does not revert it.
*/}}
{{- define "ecr-admission.renderedPinFailurePolicy" -}}
{{- $live := lookup "admissionregistration.k8s.io/v1" "MutatingWebhookConfiguration" "" (include "ecr-admission.pinWebhookName" .) }}
{{- $switched := false }}
{{- $ours := hasKey (dig "metadata" "annotations" dict (default dict $live)) "ecr-admission.io/failure-policy" }}
{{- range (ternary (dig "webhooks" list (default dict $live)) list $ours) }}
{{- if and (eq .name "pin.ecr-admission.io") .failurePolicy (ne .failurePolicy "Ignore") }}{{ $switched = true }}{{ end }}
{{- end }}
{{- if not $switched -}}
failurePolicy: Ignore
{{- end }}
{{- end }}

{{/* ",mutating:<name>" for ECR_ADMISSION_WEBHOOK_CONFIGURATION when it is rendered (kube-cluster.ts). */}}
{{- define "ecr-admission.pinWebhookConfigurationSuffix" -}}
{{- if include "ecr-admission.pinWebhookEnabled" . }},mutating:{{ include "ecr-admission.pinWebhookName" . }}{{ end }}
{{- end }}
