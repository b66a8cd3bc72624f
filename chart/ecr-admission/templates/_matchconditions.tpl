{{/*
CEL for the "images changed" matchCondition. A webhook call is skipped only for an UPDATE
whose object carries exactly the images its oldObject carried, in the same places; anything
unrecognised is sent. The expression must never fail to evaluate: with failurePolicy Fail an
evaluation error rejects the request, so every field is tested with has() before it is read
(&& and ?: short-circuit in CEL) and absent lists read as [].

ecr-admission.celImages: dict "root" ("object" | "oldObject") "path" (list of field names to
the PodSpec) -> a CEL list(string) of init, regular and ephemeral container images, then the
reference of each image volume (volumes[].image, Kubernetes ImageVolume: a node pulls it like a
container's image, so a changed reference must reach the webhook). Volumes of other sources are
left out: only their images matter, and the order of the references still tells a swap.
*/}}
{{- define "ecr-admission.celImages" -}}
{{- $spec := .root }}
{{- $guards := list }}
{{- range .path }}
{{- $spec = printf "%s.%s" $spec . }}
{{- $guards = append $guards (printf "has(%s)" $spec) }}
{{- end }}
{{- $lists := list }}
{{- range list "initContainers" "containers" "ephemeralContainers" }}
{{- $lists = append $lists (printf "(has(%s.%s) ? %s.%s.map(c, has(c.image) ? c.image : '') : [])" $spec . $spec .) }}
{{- end }}
{{- /* A marker no image can be (a space) between containers and volumes: moving the last
container's image into the first image volume changes the list. */}}
{{- $lists = append $lists "[' volumes']" }}
{{- $lists = append $lists (printf "(has(%s.volumes) ? %s.volumes.filter(v, has(v.image)).map(v, has(v.image.reference) ? v.image.reference : '') : [])" $spec $spec) }}
{{- printf "((%s) ? %s : [])" (join " && " $guards) (join " + " $lists) }}
{{- end }}

{{/* ecr-admission.celImagesChanged: path -> CEL bool, images of object != images of oldObject. */}}
{{- define "ecr-admission.celImagesChanged" -}}
{{- printf "%s != %s" (include "ecr-admission.celImages" (dict "root" "object" "path" .)) (include "ecr-admission.celImages" (dict "root" "oldObject" "path" .)) }}
{{- end }}

{{/* The whole condition: true means "call the webhook". */}}
{{- define "ecr-admission.celImagesMayChange" -}}
{{- $podSpec := list "spec" }}
{{- $templateSpec := list "spec" "template" "spec" }}
{{- $cronJobSpec := list "spec" "jobTemplate" "spec" "template" "spec" }}
{{- $podTemplateSpec := list "template" "spec" }}
{{- $workloads := "['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController']" }}
request.operation != 'UPDATE' || oldObject == null ||
(request.kind.kind == 'Pod' ? {{ include "ecr-admission.celImagesChanged" $podSpec }} :
 request.kind.kind in {{ $workloads }} ? {{ include "ecr-admission.celImagesChanged" $templateSpec }} :
 request.kind.kind == 'CronJob' ? {{ include "ecr-admission.celImagesChanged" $cronJobSpec }} :
 request.kind.kind == 'PodTemplate' ? {{ include "ecr-admission.celImagesChanged" $podTemplateSpec }} :
 true)
{{- end }}
