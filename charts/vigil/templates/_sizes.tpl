{{/* Sizes in bytes, for the checks in validate.yaml. */}}

{{/* A NATS size ("8G", "1536Mi", "2GB", a plain number) in bytes. As nats-server reads it:
     K, M, G, T are powers of 1000; Ki, Mi, Gi, Ti and KB, MB, GB, TB powers of 1024. */}}
{{- define "vigil.natsBytes" -}}
{{- $s := toString . }}
{{- $num := regexFind "^[0-9]+" $s }}
{{- $unit := lower (trimPrefix $num $s) }}
{{- $k := dict "" 0 "k" 1 "m" 2 "g" 3 "t" 4 }}
{{- $base := 1000 }}
{{- if or (hasSuffix "i" $unit) (hasSuffix "b" $unit) }}{{ $base = 1024 }}{{ end }}
{{- $prefix := trimSuffix "b" (trimSuffix "i" (trimSuffix "ib" $unit)) }}
{{- if not (hasKey $k $prefix) }}{{ fail (printf "vigil: %q is not a NATS size (a number with K, M, G, T, Ki, Mi, Gi, Ti, KB, MB, GB or TB)" $s) }}{{ end }}
{{- $bytes := int64 $num }}
{{- range until (int (index $k $prefix)) }}{{ $bytes = mul $bytes $base }}{{ end }}
{{- $bytes }}
{{- end }}

{{/* A Kubernetes quantity ("10Gi", "2G", "1.5Gi", a number) in bytes. */}}
{{- define "vigil.quantityBytes" -}}
{{- $s := toString . }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $s }}
{{- $unit := trimPrefix $num $s }}
{{- $m := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 }}
{{- if or (not $num) (not (hasKey $m $unit)) }}{{ fail (printf "vigil: %q is not a storage quantity (such as 10Gi)" $s) }}{{ end }}
{{- mulf (float64 $num) (index $m $unit) | int64 }}
{{- end }}

{{/* The smallest whole number of MiB (written in GiB when whole) that holds . bytes: a size to suggest. */}}
{{- define "vigil.natsSizeHint" -}}
{{- $mib := div (add (int64 .) 1048575) 1048576 }}
{{- if eq (mod $mib 1024) 0 }}{{ printf "%dGi" (div $mib 1024) }}{{ else }}{{ printf "%dMi" $mib }}{{ end }}
{{- end }}
