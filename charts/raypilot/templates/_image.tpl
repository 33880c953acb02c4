{{/*
The image reference: [registry/]repository, then @digest when image.digest
is set (the tag is then ignored: a digest names exactly one image), else
:tag, the tag defaulting to the chart's appVersion. The registry is
image.registry, else global.imageRegistry (the key umbrella charts set for
every subchart), else none: the container runtime's default registry or
mirror resolves the repository.
*/}}
{{- define "raypilot.image" -}}
{{- $img := .Values.image -}}
{{- $registry := default (dig "imageRegistry" "" (default dict .Values.global)) $img.registry -}}
{{- $ref := $img.repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $ref -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}
