{{/*
Cross-field checks that values.schema.json cannot express. Each fails the render with the
value to change, so a mistake stops `helm install` instead of producing a cluster that blocks
drains or a pod that crash-loops on a missing trust store.
*/}}
{{- define "ecr-admission.validate" -}}
{{- $v := .Values }}
{{- if and $v.podDisruptionBudget.enabled (ge (int $v.podDisruptionBudget.minAvailable) (int $v.replicaCount)) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below replicaCount (%v), or no node holding a webhook pod can ever be drained" $v.podDisruptionBudget.minAvailable $v.replicaCount) }}
{{- end }}
{{- if ge (int $v.server.shutdownDelaySeconds) (int $v.server.terminationGracePeriodSeconds) }}
{{- fail (printf "server.shutdownDelaySeconds (%v) must be below server.terminationGracePeriodSeconds (%v)" $v.server.shutdownDelaySeconds $v.server.terminationGracePeriodSeconds) }}
{{- end }}
{{- $sources := 0 }}
{{- range (list $v.trustStores.pems $v.trustStores.existingConfigMap $v.trustStores.existingSecret) }}
{{- if . }}{{ $sources = add1 $sources }}{{ end }}
{{- end }}
{{- if gt $sources 1 }}
{{- fail "trustStores: set only one of pems, existingConfigMap, existingSecret" }}
{{- end }}
{{- /* Every trust store the policy names must be a file the chart mounts. */}}
{{- $signatureChecks := list }}
{{- with $v.policy.checks }}{{ with .signature }}{{ $signatureChecks = append $signatureChecks . }}{{ end }}{{ end }}
{{- range $v.policy.overrides }}
{{- with .checks }}{{ with .signature }}{{ $signatureChecks = append $signatureChecks . }}{{ end }}{{ end }}
{{- end }}
{{- range $signatureChecks }}
{{- range .trustStores }}
{{- if not (hasPrefix "/etc/ecr-admission/trust/" .path) }}
{{- fail (printf "policy trust store path %q: trust stores are mounted under /etc/ecr-admission/trust/" .path) }}
{{- end }}
{{- if not (include "ecr-admission.trustVolumeEnabled" $) }}
{{- fail (printf "policy trust store %q: give its PEM in trustStores.pems, or set trustStores.existingConfigMap or existingSecret" .path) }}
{{- end }}
{{- $file := trimPrefix "/etc/ecr-admission/trust/" .path }}
{{- if and $v.trustStores.pems (not (hasKey $v.trustStores.pems $file)) }}
{{- fail (printf "policy trust store %q: trustStores.pems has no key %q" .path $file) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
