{{/* Names ------------------------------------------------------------ */}}

{{- define "tickcast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tickcast.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, within the 63-character name limit. */}}
{{- define "tickcast.componentName" -}}
{{- $root := index . 0 -}}{{- $component := index . 1 -}}
{{- printf "%s-%s" (include "tickcast.fullname" $root | trunc (int (sub 62 (len $component)))) $component | trimSuffix "-" -}}
{{- end -}}

{{/* "BTC/USD" → "btc-usd" (for object names). */}}
{{- define "tickcast.pairSlug" -}}
{{- . | lower | replace "/" "-" -}}
{{- end -}}

{{- define "tickcast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tickcast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tickcast.image" -}}
{{- $repo := required "image.repository is required: the tickcast image (built from the repository's Dockerfile)" .Values.image.repository -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------- */}}

{{- define "tickcast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tickcast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tickcast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tickcast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tickcast
{{- end -}}

{{/* list $ "<component>" */}}
{{- define "tickcast.componentSelectorLabels" -}}
{{ include "tickcast.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "tickcast.componentLabels" -}}
{{ include "tickcast.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* What each service is, for env, egress and scaling notes.
     stream: consumes a Kafka topic in a consumer group keyed by pair.
     internet: reaches outside the cluster (exchanges, feeds, LLM, webhooks). */}}
{{- define "tickcast.serviceTraits" -}}
ingest: {stream: false, internet: true}
candles: {stream: true, internet: false}
features: {stream: true, internet: false}
news: {stream: false, internet: true}
sentiment: {stream: true, internet: true}
predictor: {stream: true, internet: false}
api: {stream: true, internet: false}
monitor: {stream: true, internet: true}
book: {stream: false, internet: true}
{{- end -}}

{{/* Checks that fail the render with a message saying what to set ------- */}}
{{- define "tickcast.validate" -}}
{{- $v := .Values -}}
{{- $secret := $v.secrets.existingSecret -}}
{{- $howto := "create it first: kubectl create secret generic tickcast-secrets --from-literal=%s=..., then set secrets.existingSecret=tickcast-secrets" -}}
{{- if and $v.api.auth.enabled (not $secret) -}}
{{- fail (printf "api.auth.enabled=true requires secrets.existingSecret: the name of a Secret with key TICKCAST_API_KEYS (comma-separated keys); %s" (printf $howto "TICKCAST_API_KEYS")) -}}
{{- end -}}
{{- if and $v.api.cursorSecret (not $secret) -}}
{{- fail (printf "api.cursorSecret=true requires secrets.existingSecret: the name of a Secret with key TICKCAST_API_CURSOR_SECRET (at least 32 characters); %s" (printf $howto "TICKCAST_API_CURSOR_SECRET")) -}}
{{- end -}}
{{- if and $v.llm.enabled $v.llm.apiKeyRequired (not $secret) -}}
{{- fail (printf "llm.enabled=true with llm.apiKeyRequired=true requires secrets.existingSecret: the name of a Secret with key TICKCAST_LLM_API_KEY; %s (or set llm.apiKeyRequired=false for a server without keys)" (printf $howto "TICKCAST_LLM_API_KEY")) -}}
{{- end -}}
{{- if and $v.llm.enabled (not $v.llm.baseUrl) (not $v.llm.model) -}}
{{- fail "llm.enabled=true requires llm.model (and llm.baseUrl for a server other than OpenAI)" -}}
{{- end -}}
{{- if and $v.news.cryptopanic.enabled (not $secret) -}}
{{- fail (printf "news.cryptopanic.enabled=true requires secrets.existingSecret: the name of a Secret with key TICKCAST_CRYPTOPANIC_TOKEN; %s" (printf $howto "TICKCAST_CRYPTOPANIC_TOKEN")) -}}
{{- end -}}
{{- range $channel, $key := dict "slack" "TICKCAST_ALERT_SLACK_URL" "discord" "TICKCAST_ALERT_DISCORD_URL" "webhook" "TICKCAST_ALERT_WEBHOOK_URL" -}}
{{- if and (index $v.alerts $channel) (not $secret) -}}
{{- fail (printf "alerts.%s=true requires secrets.existingSecret: the name of a Secret with key %s; %s" $channel $key (printf $howto $key)) -}}
{{- end -}}
{{- end -}}
{{- $es := $v.elasticsearch.auth -}}
{{- if and (ne $es.type "none") (not $es.existingSecret) -}}
{{- fail (printf "elasticsearch.auth.type=%s requires elasticsearch.auth.existingSecret: the name of a Secret holding the %s (key %s); e.g. kubectl create secret generic tickcast-es --from-literal=%s=..." $es.type (ternary "password" "API key" (eq $es.type "basic")) (ternary $es.passwordKey $es.apiKeyKey (eq $es.type "basic")) (ternary $es.passwordKey $es.apiKeyKey (eq $es.type "basic"))) -}}
{{- end -}}
{{- if and (eq $es.type "basic") (not $es.username) -}}
{{- fail "elasticsearch.auth.type=basic requires elasticsearch.auth.username (e.g. elastic)" -}}
{{- end -}}
{{- if and $v.api.autoscaling.enabled (gt (int $v.api.autoscaling.minReplicas) (int $v.api.autoscaling.maxReplicas)) -}}
{{- fail (printf "api.autoscaling.minReplicas (%v) must not exceed api.autoscaling.maxReplicas (%v)" $v.api.autoscaling.minReplicas $v.api.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and $v.api.podDisruptionBudget.enabled (hasKey $v.api.podDisruptionBudget "minAvailable") (hasKey $v.api.podDisruptionBudget "maxUnavailable") -}}
{{- fail "api.podDisruptionBudget: set minAvailable or maxUnavailable, not both" -}}
{{- end -}}
{{- end -}}

{{/* Environment ------------------------------------------------------ */}}

{{/* Secret-backed variables of one component (name = service, "trainer" or "init"). */}}
{{- define "tickcast.secretEnv" -}}
{{- $root := index . 0 -}}{{- $component := index . 1 -}}
{{- $v := $root.Values -}}
{{- $es := $v.elasticsearch.auth -}}
{{- if eq $es.type "basic" }}
- name: TICKCAST_ES_USERNAME
  value: {{ $es.username | quote }}
- name: TICKCAST_ES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $es.existingSecret }}
      key: {{ $es.passwordKey }}
{{- else if eq $es.type "apiKey" }}
- name: TICKCAST_ES_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $es.existingSecret }}
      key: {{ $es.apiKeyKey }}
{{- end }}
{{- $keys := list -}}
{{- if and (eq $component "api") $v.api.auth.enabled -}}{{- $keys = append $keys "TICKCAST_API_KEYS" -}}{{- end -}}
{{- if and (eq $component "api") $v.api.cursorSecret -}}{{- $keys = append $keys "TICKCAST_API_CURSOR_SECRET" -}}{{- end -}}
{{- if and (eq $component "sentiment") $v.llm.enabled $v.llm.apiKeyRequired -}}{{- $keys = append $keys "TICKCAST_LLM_API_KEY" -}}{{- end -}}
{{- if and (eq $component "news") $v.news.cryptopanic.enabled -}}{{- $keys = append $keys "TICKCAST_CRYPTOPANIC_TOKEN" -}}{{- end -}}
{{- if eq $component "monitor" -}}
{{- if $v.alerts.slack -}}{{- $keys = append $keys "TICKCAST_ALERT_SLACK_URL" -}}{{- end -}}
{{- if $v.alerts.discord -}}{{- $keys = append $keys "TICKCAST_ALERT_DISCORD_URL" -}}{{- end -}}
{{- if $v.alerts.webhook -}}{{- $keys = append $keys "TICKCAST_ALERT_WEBHOOK_URL" -}}{{- end -}}
{{- end -}}
{{- range $keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.existingSecret }}
      key: {{ . }}
{{- end }}
{{- if $v.elasticsearch.caSecret.name }}
- name: NODE_EXTRA_CA_CERTS
  value: /etc/tickcast/es-ca/{{ $v.elasticsearch.caSecret.key }}
{{- end }}
{{- end -}}

{{/* The /tmp and CA mounts, and their volumes, shared by every pod. */}}
{{- define "tickcast.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.elasticsearch.caSecret.name }}
- name: es-ca
  mountPath: /etc/tickcast/es-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "tickcast.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- if .Values.elasticsearch.caSecret.name }}
- name: es-ca
  secret:
    secretName: {{ .Values.elasticsearch.caSecret.name }}
    items:
      - key: {{ .Values.elasticsearch.caSecret.key }}
        path: {{ .Values.elasticsearch.caSecret.key }}
{{- end }}
{{- end -}}

{{/* The non-secret TICKCAST_* variables (ConfigMap data, or inline env for the pre-install hook). */}}
{{- define "tickcast.configData" -}}
{{- $v := .Values -}}
TICKCAST_MODE: production
TICKCAST_BUS: kafka
TICKCAST_STORE: elasticsearch
TICKCAST_KAFKA_BROKERS: {{ join "," $v.kafka.brokers | quote }}
TICKCAST_KAFKA_CLIENT_ID: {{ $v.kafka.clientId | quote }}
TICKCAST_KAFKA_PARTITIONS: {{ $v.kafka.partitions | quote }}
TICKCAST_KAFKA_REPLICATION_FACTOR: {{ $v.kafka.replicationFactor | quote }}
TICKCAST_KAFKA_SESSION_TIMEOUT_MS: {{ $v.kafka.sessionTimeoutMs | quote }}
{{- with $v.kafka.topicPrefix }}
TICKCAST_KAFKA_TOPIC_PREFIX: {{ . | quote }}
{{- end }}
TICKCAST_ES_URL: {{ $v.elasticsearch.url | quote }}
TICKCAST_ES_INDEX_PREFIX: {{ $v.elasticsearch.indexPrefix | quote }}
{{- with $v.kibana.url }}
TICKCAST_KIBANA_URL: {{ . | quote }}
{{- end }}
TICKCAST_PAIRS: {{ join "," $v.config.pairs | quote }}
TICKCAST_LOG_LEVEL: {{ $v.config.logLevel | quote }}
TICKCAST_HTTP_HOST: "0.0.0.0"
TICKCAST_HTTP_PORT: {{ $v.ops.port | quote }}
TICKCAST_API_PORT: {{ $v.api.port | quote }}
TICKCAST_DATA_DIR: /tmp/tickcast
{{- if $v.llm.enabled }}
{{- with $v.llm.baseUrl }}
TICKCAST_LLM_BASE_URL: {{ . | quote }}
{{- end }}
{{- with $v.llm.model }}
TICKCAST_LLM_MODEL: {{ . | quote }}
{{- end }}
{{- end }}
KAFKAJS_NO_PARTITIONER_WARNING: "1"
{{- range $k, $val := $v.config.extraEnv }}
{{ $k }}: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* A container running one tickcast command.
     dict "root" $ "name" <container> "args" (list ...) "component" <name> "resources" {...} "inlineConfig" bool "env" {extra} */}}
{{- define "tickcast.commandContainer" -}}
{{- $root := .root -}}
- name: {{ .name }}
  image: {{ include "tickcast.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: {{ toJson .args }}
  {{- if not .inlineConfig }}
  envFrom:
    - configMapRef:
        name: {{ include "tickcast.fullname" $root }}
  {{- end }}
  env:
    {{- if .inlineConfig }}
    {{- range $k, $val := (include "tickcast.configData" $root | fromYaml) }}
    {{- if ne $k "TICKCAST_KAFKA_CLIENT_ID" }}
    - name: {{ $k }}
      value: {{ $val | toString | quote }}
    {{- end }}
    {{- end }}
    {{- end }}
    - name: TICKCAST_KAFKA_CLIENT_ID
      value: {{ printf "%s-%s" $root.Values.kafka.clientId .component | quote }}
    {{- range $k, $val := .env }}
    - name: {{ $k }}
      value: {{ $val | toString | quote }}
    {{- end }}
    {{- with (include "tickcast.secretEnv" (list $root .component) | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    {{- include "tickcast.volumeMounts" $root | nindent 4 }}
{{- end -}}

{{/* Pod-level settings shared by every pod. */}}
{{- define "tickcast.podSpecCommon" -}}
serviceAccountName: {{ include "tickcast.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  {{- include "tickcast.volumes" . | nindent 2 }}
{{- end -}}

{{- define "tickcast.validatePdb" -}}
{{- $pdb := .Values.api.podDisruptionBudget -}}
{{- if and $pdb.enabled .Values.services.api.enabled (not .Values.api.autoscaling.enabled) (hasKey $pdb "minAvailable") (not (kindIs "string" $pdb.minAvailable)) -}}
{{- if ge (int $pdb.minAvailable) (int .Values.services.api.replicas) -}}
{{- fail (printf "api.podDisruptionBudget.minAvailable (%v) must be below services.api.replicas (%v), or no node could ever be drained; raise the replicas or enable api.autoscaling" $pdb.minAvailable .Values.services.api.replicas) -}}
{{- end -}}
{{- end -}}
{{- end -}}
