{{/*
Which namespaces the API server sends to the webhook, in one place for both webhook
configurations: never the excluded ones (webhook.excludeNamespaces plus the release namespace);
with namespaceSelection optIn, only those labelled <namespaceOptInLabel>=true; never those
labelled <namespaceOptOutLabel>=true when an admin turned the opt-out label on.
*/}}
{{- define "ecr-admission.namespaceSelector" -}}
matchExpressions:
  # The webhook's own namespace and the cluster's system and add-on namespaces are never sent:
  # the webhook must be able to start (and the control plane to run) while it is down.
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "ecr-admission.excludedNamespaces" . }}
  {{- if eq .Values.webhook.namespaceSelection "optIn" }}
  - key: {{ .Values.webhook.namespaceOptInLabel }}
    operator: In
    values: ["true"]
  {{- end }}
  {{- with .Values.webhook.namespaceOptOutLabel }}
  - key: {{ . }}
    operator: NotIn
    values: ["true"]
  {{- end }}
  {{- with .Values.webhook.namespaceSelectorExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
Labels whose change can take a namespace out of the webhook's scope, guarded by the
namespace-label webhook: the opt-out label when set, and (optIn mode, opt-out label set) the
opt-in label. Empty when the opt-out label is off.
*/}}
{{- define "ecr-admission.guardedLabels" -}}
{{- with .Values.webhook.namespaceOptOutLabel }}
{{- $guard := dict "optOut" . }}
{{- if eq $.Values.webhook.namespaceSelection "optIn" }}{{ $_ := set $guard "optIn" $.Values.webhook.namespaceOptInLabel }}{{ end }}
{{- toJson $guard }}
{{- end }}
{{- end }}

{{/* CEL: the value of label KEY on OBJ ("" when absent). */}}
{{- define "ecr-admission.celLabel" -}}
{{- printf "(%s != null && has(%s.metadata.labels) && '%s' in %s.metadata.labels ? %s.metadata.labels['%s'] : '')" .obj .obj .key .obj .obj .key }}
{{- end }}

{{/*
caBundle (base64) of the namespace-label webhook. tls.source webhook: none here, the webhook
pods write it (it is in their --webhook-configuration list, _tls.tpl). cert-manager: cainjector
fills it. Chart-made TLS: the CA Secret as the cluster holds it (lookup); webhook.yaml generates
the CA in the same render and its value cannot cross template files, so on the very first
install it is empty until the next upgrade, and guarded label changes fail closed meanwhile.
*/}}
{{- define "ecr-admission.namespaceLabelCABundle" -}}
{{- if and (not .Values.tls.certManager.enabled) (ne (default "chart" .Values.tls.source) "webhook") }}
{{- $ca := lookup "v1" "Secret" .Release.Namespace (printf "%s-ca" (include "ecr-admission.fullname" .)) }}
{{- with (dig "data" "ca.crt" "" $ca) }}{{ . }}{{ end }}
{{- end }}
{{- end }}
