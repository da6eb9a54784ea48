{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "portalis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: the release name, with the chart name unless the release already has it. */}}
{{- define "portalis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "portalis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "portalis.labels" -}}
helm.sh/chart: {{ include "portalis.chart" . }}
app.kubernetes.io/name: {{ include "portalis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portalis
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector of the operator pods (immutable in a Deployment: never add to it). */}}
{{- define "portalis.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "portalis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "portalis.operatorLabels" -}}
{{ include "portalis.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "portalis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "portalis.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portalis.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The label kube-prometheus-stack's Prometheus selects ServiceMonitors and PrometheusRules by. */}}
{{- define "portalis.monitoringLabels" -}}
{{- with .Values.monitoring.release }}
release: {{ . }}
{{- end }}
{{- end }}

{{/*
Annotations for an object of one of the chart's own CRDs (GPUPool, ClusterKopfPeering). On the first
install the CRD is created by this same release and Helm cannot map the kind yet, so the object is made
by a post-install hook instead; it carries Helm's ownership metadata, so the next upgrade, which finds
the API, adopts it as an ordinary release resource. Call with (dict "root" $ "api" "group/version/Kind").
*/}}
{{- define "portalis.ownCRAnnotations" -}}
{{- if not (.root.Capabilities.APIVersions.Has .api) }}
helm.sh/hook: post-install
helm.sh/hook-weight: "-5"
meta.helm.sh/release-name: {{ .root.Release.Name }}
meta.helm.sh/release-namespace: {{ .root.Release.Namespace }}
{{- end }}
{{- end }}

{{/*
The operator's rules in a job namespace (operator-role.yaml binds them per watched namespace, or
cluster-wide when every namespace is watched).
*/}}
{{- define "portalis.jobNamespaceRules" -}}
# TranslationJobs: watch them (get/list/watch) and write kopf's finalizer and progress annotations
# (patch/update).
- apiGroups: [portalis.dev]
  resources: [translationjobs]
  verbs: [get, list, watch, patch, update]
# TranslationJob status: phase, conditions, queue position, progress, recoveries, cost.
- apiGroups: [portalis.dev]
  resources: [translationjobs/status]
  verbs: [get, patch, update]
# Worker pods: create one per admitted shard, delete them on preemption, reclaim or completion, patch
# their labels and annotations (reading pods is granted cluster-wide, for GPU accounting).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
# Events about jobs (and, in `default`, about GPUPools); patch merges repeats.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# ConfigMap outputs: create each shard's ledger ConfigMap and the output ConfigMap, owned by the job
# (manifests.output_config_maps). get and update only because the workers' `-output` Role grants them
# (creating a Role needs the verbs it grants); the operator reads and updates no ConfigMap itself.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, get, update]
# The worker ServiceAccount, created when missing, with a Role that lets a worker read pods and patch
# its own pod's progress annotation (the worker-token ValidatingAdmissionPolicy narrows the patch).
# The operator holds those pod verbs itself here, so creating the Role needs no `escalate` or `bind`.
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [create]
# The workers' NetworkPolicy (only the metrics ports open to other pods; network_policy.py).
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [create]
{{- end }}
