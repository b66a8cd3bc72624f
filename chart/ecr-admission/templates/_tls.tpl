{{/*
The chart-made CA and serving certificate (tls.certManager.enabled false), as YAML:
caCrt, caKey, caNotAfter, certCrt, certKey, certNotAfter (PEM text, unix seconds).

Both are kept across upgrades: the existing Secrets are read back with lookup. The CA is
remade only when it nears expiry; the serving certificate when it nears expiry, or when the CA
or the Service DNS names changed (recorded as annotations on the Secret). Keeping the CA means
a renewed serving certificate is trusted by the caBundle already in the API server, so there is
no window of failed calls while the kubelet updates the mounted files and the server reloads
them. Without a cluster (helm template, --dry-run=client) lookup returns nothing and fresh
ones are made each time: GitOps tools that render with `helm template` should use cert-manager.
*/}}
{{- define "ecr-admission.selfSignedTLS" -}}
{{- $fullname := include "ecr-admission.fullname" . }}
{{- $cfg := .Values.tls.selfSigned }}
{{- $now := now | unixEpoch | int64 }}
{{- $renewBefore := mul (int $cfg.renewBeforeDays) 86400 }}
{{- $dnsNames := include "ecr-admission.serviceDNSNames" . | fromJsonArray }}

{{- $caCrt := "" }}{{ $caKey := "" }}{{ $caNotAfter := 0 }}
{{- $oldCA := lookup "v1" "Secret" .Release.Namespace (printf "%s-ca" $fullname) }}
{{- if $oldCA }}
{{- $notAfter := int64 (default "0" (dig "metadata" "annotations" "ecr-admission.io/not-after" "0" $oldCA)) }}
{{- if and (hasKey (default dict $oldCA.data) "ca.crt") (hasKey (default dict $oldCA.data) "ca.key") (gt (int64 (sub $notAfter $renewBefore)) $now) }}
{{- $caCrt = index $oldCA.data "ca.crt" | b64dec }}
{{- $caKey = index $oldCA.data "ca.key" | b64dec }}
{{- $caNotAfter = $notAfter }}
{{- end }}
{{- end }}
{{- if not $caCrt }}
{{- $ca := genCA (printf "%s-ca" $fullname) (int $cfg.caValidityDays) }}
{{- $caCrt = $ca.Cert }}{{ $caKey = $ca.Key }}
{{- $caNotAfter = add $now (mul (int $cfg.caValidityDays) 86400) }}
{{- end }}

{{- $certCrt := "" }}{{ $certKey := "" }}{{ $certNotAfter := 0 }}
{{- $oldCert := lookup "v1" "Secret" .Release.Namespace (include "ecr-admission.tlsSecretName" .) }}
{{- if $oldCert }}
{{- $annotations := dig "metadata" "annotations" dict $oldCert }}
{{- $notAfter := int64 (default "0" (get $annotations "ecr-admission.io/not-after")) }}
{{- $sameCA := eq (get $annotations "ecr-admission.io/ca-sha256") ($caCrt | sha256sum) }}
{{- $sameNames := eq (get $annotations "ecr-admission.io/dns-names-sha256") (include "ecr-admission.serviceDNSNames" . | sha256sum) }}
{{- if and $sameCA $sameNames (gt (int64 (sub $notAfter $renewBefore)) $now) (hasKey (default dict $oldCert.data) "tls.crt") (hasKey (default dict $oldCert.data) "tls.key") }}
{{- $certCrt = index $oldCert.data "tls.crt" | b64dec }}
{{- $certKey = index $oldCert.data "tls.key" | b64dec }}
{{- $certNotAfter = $notAfter }}
{{- end }}
{{- end }}
{{- if not $certCrt }}
{{- $ca := buildCustomCert ($caCrt | b64enc) ($caKey | b64enc) }}
{{- $cert := genSignedCert (first $dnsNames) nil $dnsNames (int $cfg.validityDays) $ca }}
{{- $certCrt = $cert.Cert }}{{ $certKey = $cert.Key }}
{{- $certNotAfter = add $now (mul (int $cfg.validityDays) 86400) }}
{{- end }}
caCrt: {{ $caCrt | quote }}
caKey: {{ $caKey | quote }}
caNotAfter: {{ $caNotAfter | quote }}
certCrt: {{ $certCrt | quote }}
certKey: {{ $certKey | quote }}
certNotAfter: {{ $certNotAfter | quote }}
{{- end }}

{{/*
Who makes the serving certificate: certManager (tls.certManager.enabled), webhook (the
webhook process itself, the default: certificates.ts) or chart (the lookup-based CA above).
*/}}
{{- define "ecr-admission.tlsSource" -}}
{{- if .Values.tls.certManager.enabled }}certManager{{ else }}{{ .Values.tls.source }}{{ end }}
{{- end }}

{{/* The Secret the webhook process keeps its CA and serving certificate in (tls.source webhook). */}}
{{- define "ecr-admission.certificateSecretName" -}}
{{- printf "%s-certificates" (include "ecr-admission.fullname" .) }}
{{- end }}

{{/*
The ValidatingWebhookConfigurations the webhook process maintains (caBundle with tls.source
webhook; failurePolicy always), as a JSON list: the image webhook's first.
*/}}
{{- define "ecr-admission.webhookConfigurationNames" -}}
{{- $fullname := include "ecr-admission.fullname" . }}
{{- $names := list $fullname }}
{{- if .Values.webhook.namespaceOptOutLabel }}{{ $names = append $names (printf "%s-namespace-label" $fullname) }}{{ end }}
{{- $names | toJson }}
{{- end }}

{{/*
The image webhook's failurePolicy as rendered. Until a webhook Pod serves, the configuration
must reject nothing (a Pod that cannot start must not lock the cluster), so it is installed
with Ignore and the webhook process switches it to webhook.failurePolicy (annotation
ecr-admission.io/failure-policy) once it answers. After that the field is the process's: a
render that finds it switched (lookup) leaves it out, so `helm upgrade` neither reverts it nor
conflicts with it under server-side apply. Without a cluster (helm template) it is always
Ignore: the same output on every render.
*/}}
{{- define "ecr-admission.renderedFailurePolicy" -}}
{{- $live := lookup "admissionregistration.k8s.io/v1" "ValidatingWebhookConfiguration" "" (include "ecr-admission.fullname" .) }}
{{- $switched := false }}
{{- /* Only a configuration this chart version installed (with the annotation) is the pods' to
switch: one from an earlier version had Fail from the start, and its caBundle goes with this
upgrade, so it is set back to Ignore until a new pod serves. */}}
{{- $ours := hasKey (dig "metadata" "annotations" dict (default dict $live)) "ecr-admission.io/failure-policy" }}
{{- range (ternary (dig "webhooks" list (default dict $live)) list $ours) }}
{{- if and (eq .name "images.ecr-admission.io") .failurePolicy (ne .failurePolicy "Ignore") }}{{ $switched = true }}{{ end }}
{{- end }}
{{- if not $switched -}}
failurePolicy: Ignore
{{- end }}
{{- end }}

{{/* The webhook container's TLS and registration environment. */}}
{{- define "ecr-admission.tlsEnv" -}}
{{- $source := include "ecr-admission.tlsSource" . }}
{{- if eq $source "webhook" }}
- name: ECR_ADMISSION_CERTIFICATE_SECRET
  value: {{ include "ecr-admission.certificateSecretName" . | quote }}
- name: ECR_ADMISSION_TLS_HOSTS
  value: {{ include "ecr-admission.serviceDNSNames" . | fromJsonArray | join "," | quote }}
- name: ECR_ADMISSION_CA_PROMOTE_AFTER_MS
  value: {{ mul (int .Values.tls.webhook.caPromoteAfterSeconds) 1000 | quote }}
- name: ECR_ADMISSION_CA_RETIRE_AFTER_MS
  value: {{ mul (int .Values.tls.webhook.caRetireAfterSeconds) 1000 | quote }}
{{- else }}
- name: ECR_ADMISSION_TLS_CERT
  value: /etc/ecr-admission/tls/tls.crt
- name: ECR_ADMISSION_TLS_KEY
  value: /etc/ecr-admission/tls/tls.key
{{- end }}
- name: ECR_ADMISSION_WEBHOOK_CONFIGURATION
  value: {{ printf "%s%s" (include "ecr-admission.webhookConfigurationNames" . | fromJsonArray | join ",") (include "ecr-admission.pinWebhookConfigurationSuffix" .) | quote }}
{{- end }}
