"""Python view of the portalis.dev/v1alpha1 API.

The CRD YAML under crds/ is the source of truth; these models mirror it field by field (names, required,
enums, defaults, bounds) and tests/unit/test_api_drift.py fails on any difference. Validation that only
CEL can express (exactly one source, immutability) lives in the CRD alone: the API server enforces it
before the operator ever sees an object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "portalis.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

PriorityName = Literal["critical", "high", "normal", "low", "background"]
SpotPreference = Literal["preferred", "required", "never"]
CapacityTypeName = Literal["spot", "on-demand"]
Phase = Literal[
    "Pending", "Queued", "Admitted", "Running", "Preempted", "Recovering", "Suspended", "Succeeded", "Failed"
]
QueueReason = Literal[
    "Suspended",
    "InsufficientCapacity",
    "WaitingForHigherPriority",
    "ExceedsPoolCapacity",
    "Preempting",
    "OutputPathInUse",
    "NamespaceQuotaExceeded",
]
ConditionStatus = Literal["True", "False", "Unknown"]

_CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
_ABS_PATH_PATTERN = r"^/"

Glob = Annotated[str, Field(min_length=1, max_length=1024)]
TaintKey = Annotated[str, Field(min_length=1, max_length=316)]
LabelValue = Annotated[str, Field(max_length=63)]


class ApiModel(BaseModel):
    """Base: camelCase on the wire, snake_case in Python; either accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict the operator patches into the API (camelCase, unset fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SpecModel(ApiModel):
    """Spec parts are strict like the API server: "true" is not a boolean, "2" is not an integer."""

    model_config = ConfigDict(strict=True)


class Condition(ApiModel):
    type: str = Field(min_length=1, max_length=316, pattern=_CONDITION_TYPE_PATTERN)
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=_REASON_PATTERN)
    message: str = Field(max_length=32768)
    last_transition_time: datetime
    observed_generation: int | None = Field(default=None, ge=0)


# --------------------------------------------------------------------------------------------------------
# TranslationJob spec


class ConfigMapRef(SpecModel):
    name: str = Field(min_length=1, max_length=253)


class SourcePVC(SpecModel):
    claim_name: str = Field(min_length=1, max_length=253)
    path: str = Field(default="/", max_length=1024, pattern=_ABS_PATH_PATTERN)


class SecretRef(SpecModel):
    name: str = Field(min_length=1, max_length=253)


class GitSource(SpecModel):
    url: str = Field(min_length=1, max_length=2048, pattern=r"^(https://|ssh://|git@)\S+$")
    ref: str | None = Field(default=None, max_length=255)
    path: str = Field(default="/", max_length=1024, pattern=_ABS_PATH_PATTERN)
    credentials_secret_ref: SecretRef | None = None


class Source(SpecModel):
    config_map: ConfigMapRef | None = None
    persistent_volume_claim: SourcePVC | None = None
    git: GitSource | None = None
    include: list[Glob] = Field(default_factory=lambda: ["**/*.py"], max_length=64)
    exclude: list[Glob] = Field(default_factory=list, max_length=64)


class OutputPVC(SpecModel):
    claim_name: str = Field(min_length=1, max_length=253)
    path: str = Field(default="/", max_length=1024, pattern=_ABS_PATH_PATTERN)


class Output(SpecModel):
    persistent_volume_claim: OutputPVC | None = None
    config_map: ConfigMapRef | None = None


class Target(SpecModel):
    edition: Literal["2018", "2021", "2024"] = "2021"
    crate_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")


class Capacity(SpecModel):
    spot: SpotPreference | None = None


class Model(SpecModel):
    name: str = Field(
        default="portalis-translator", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    version: int | None = Field(default=None, ge=1)
    fallback: Literal["none", "rules"] = "none"


class Translation(SpecModel):
    backend: Literal["auto", "model", "rules"] = "auto"
    memory: bool = False


class Checkpoint(SpecModel):
    interval: str = Field(default="30s", pattern=r"^[1-9][0-9]{0,5}(s|m|h)$")

    @property
    def interval_seconds(self) -> int:
        unit = {"s": 1, "m": 60, "h": 3600}[self.interval[-1]]
        return int(self.interval[:-1]) * unit


class Recovery(SpecModel):
    max_reclaims: int = Field(default=10, ge=0, le=1000)
    max_error_retries: int = Field(default=3, ge=0, le=100)
    backoff_seconds: int = Field(default=30, ge=1, le=3600)
    on_demand_after_reclaims: int = Field(default=3, ge=1, le=1000)


class TranslationJobSpec(SpecModel):
    source: Source
    output: Output
    target: Target
    priority: PriorityName = "normal"
    capacity: Capacity = Field(default_factory=Capacity)
    parallelism: int = Field(default=1, ge=1, le=64)
    gpus_per_worker: int = Field(default=1, ge=1, le=8)
    model: Model = Field(default_factory=Model)
    translation: Translation = Field(default_factory=Translation)
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    recovery: Recovery = Field(default_factory=Recovery)
    deadline_seconds: int | None = Field(default=None, ge=1)
    suspend: bool = False
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)


# --------------------------------------------------------------------------------------------------------
# TranslationJob status


class QueueStatus(ApiModel):
    position: int | None = Field(default=None, ge=1)
    reason: QueueReason | None = None
    effective_priority: PriorityName | None = None


class ProgressStatus(ApiModel):
    units_total: int | None = Field(default=None, ge=0)
    units_done: int | None = Field(default=None, ge=0)
    units_failed: int | None = Field(default=None, ge=0)
    percent: int | None = Field(default=None, ge=0, le=100)
    eta: datetime | None = None


class WorkerStatus(ApiModel):
    shard: int = Field(ge=0)
    pod: str | None = Field(default=None, max_length=253)
    node: str | None = Field(default=None, max_length=253)
    capacity_type: CapacityTypeName | None = None
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] | None = None


class RecoveriesStatus(ApiModel):
    reclaims: int | None = Field(default=None, ge=0)
    error_retries: int | None = Field(default=None, ge=0)


class PodRun(ApiModel):
    uid: str = Field(min_length=1, max_length=128)
    capacity_type: CapacityTypeName
    gpus: int = Field(ge=0)
    start: datetime
    end: datetime | None = None


class CostStatus(ApiModel):
    gpu_seconds_spot: float | None = Field(default=None, ge=0)
    gpu_seconds_on_demand: float | None = Field(default=None, ge=0)
    estimated_usd: float | None = Field(default=None, ge=0, alias="estimatedUSD")
    closed_gpu_seconds_spot: float | None = Field(default=None, ge=0, alias="closedGPUSecondsSpot")
    closed_gpu_seconds_on_demand: float | None = Field(default=None, ge=0, alias="closedGPUSecondsOnDemand")
    as_of: datetime | None = None
    pods: list[PodRun] | None = Field(default=None, max_length=128)


class ResultUnits(ApiModel):
    total: int | None = Field(default=None, ge=0)
    translated: int | None = Field(default=None, ge=0)
    compiled: int | None = Field(default=None, ge=0)
    verified: int | None = Field(default=None, ge=0)
    mismatched: int | None = Field(default=None, ge=0)
    failed: int | None = Field(default=None, ge=0)


class FailureReasonCount(ApiModel):
    reason: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=0)


class UnitFailure(ApiModel):
    file: str = Field(max_length=256)
    unit: str = Field(max_length=256)
    reason: str = Field(min_length=1, max_length=64)
    message: str | None = Field(default=None, max_length=256)


class CrateResult(ApiModel):
    name: str | None = Field(default=None, max_length=64)
    digest: str | None = Field(default=None, max_length=71, pattern=r"^sha256:[0-9a-f]{64}$")
    files: int | None = Field(default=None, ge=0)
    builds: bool | None = None


class ResultStatus(ApiModel):
    summary: str | None = Field(default=None, max_length=256)
    reported: bool | None = None
    output: str | None = Field(default=None, max_length=2048)
    files: int | None = Field(default=None, ge=0)
    units: ResultUnits | None = None
    failure_reasons: list[FailureReasonCount] | None = Field(default=None, max_length=17)
    failures: list[UnitFailure] | None = Field(default=None, max_length=5)
    failures_truncated: bool | None = None
    crate: CrateResult | None = None


class TranslationJobStatus(ApiModel):
    phase: Phase | None = None
    observed_generation: int | None = Field(default=None, ge=0)
    conditions: list[Condition] | None = Field(default=None, max_length=16)
    queue: QueueStatus | None = None
    progress: ProgressStatus | None = None
    active_workers: int | None = Field(default=None, ge=0)
    workers: list[WorkerStatus] | None = Field(default=None, max_length=64)
    recoveries: RecoveriesStatus | None = None
    last_checkpoint_time: datetime | None = None
    cost: CostStatus | None = None
    result: ResultStatus | None = None
    admitted_at: datetime | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None


# --------------------------------------------------------------------------------------------------------
# GPUPool


class ClusterAPIProvider(SpecModel):
    namespace: str = Field(min_length=1, max_length=63)
    spot_machine_deployment: str = Field(min_length=1, max_length=253)
    on_demand_machine_deployment: str = Field(min_length=1, max_length=253)


class StaticProvider(SpecModel):
    node_selector: dict[str, LabelValue] = Field(max_length=32)


class Provider(SpecModel):
    type: Literal["kwok", "clusterAPI", "static"]
    cluster_api: ClusterAPIProvider | None = Field(default=None, alias="clusterAPI")
    static: StaticProvider | None = None


class NodeBounds(SpecModel):
    min: int = Field(default=1, ge=0, le=1000)
    max: int = Field(default=10, ge=1, le=1000)


class SpotMix(SpecModel):
    target_ratio: float = Field(default=0.75, ge=0, le=1)
    min_on_demand: int = Field(default=1, ge=0, le=1000)
    capacity_type_label: str = Field(default="karpenter.sh/capacity-type", min_length=1, max_length=316)


DEFAULT_INTERRUPTION_TAINTS = (
    "karpenter.sh/disrupted",
    "cloud.google.com/impending-node-termination",
    "aws-node-termination-handler/spot-itn",
    "portalis.dev/reclaim",
)


class Interruption(SpecModel):
    taints: list[TaintKey] = Field(default_factory=lambda: list(DEFAULT_INTERRUPTION_TAINTS), max_length=32)
    not_ready_grace_seconds: int = Field(default=60, ge=0, le=3600)


class ScaleUp(SpecModel):
    step: int = Field(default=2, ge=1, le=100)
    delay_seconds: int = Field(default=60, ge=0, le=3600)
    cooldown_seconds: int = Field(default=180, ge=0, le=86400)


class ScaleDown(SpecModel):
    step: int = Field(default=1, ge=1, le=100)
    idle_seconds: int = Field(default=300, ge=0, le=86400)
    cooldown_seconds: int = Field(default=300, ge=0, le=86400)


class Pricing(SpecModel):
    spot_per_gpu_hour: float | None = Field(default=None, ge=0, alias="spotPerGPUHour")
    on_demand_per_gpu_hour: float | None = Field(default=None, ge=0, alias="onDemandPerGPUHour")


class NamespaceQuota(SpecModel):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    max_gpus: int = Field(ge=0, le=100000, alias="maxGPUs")


class Quotas(SpecModel):
    default_max_gpus: int | None = Field(default=None, ge=0, le=100000, alias="defaultMaxGPUs")
    namespaces: list[NamespaceQuota] | None = Field(default=None, max_length=1000)


class GPUPoolSpec(SpecModel):
    provider: Provider
    nodes: NodeBounds = Field(default_factory=NodeBounds)
    gpus_per_node: int = Field(default=8, ge=1, le=16)
    spot: SpotMix = Field(default_factory=SpotMix)
    interruption: Interruption = Field(default_factory=Interruption)
    scale_up: ScaleUp = Field(default_factory=ScaleUp)
    scale_down: ScaleDown = Field(default_factory=ScaleDown)
    pricing: Pricing | None = None
    quotas: Quotas | None = None


class NodeCounts(ApiModel):
    spot: int | None = Field(default=None, ge=0)
    on_demand: int | None = Field(default=None, ge=0)


class GPUCounts(ApiModel):
    total: int | None = Field(default=None, ge=0)
    used: int | None = Field(default=None, ge=0)


class GPUPoolStatus(ApiModel):
    observed_generation: int | None = Field(default=None, ge=0)
    nodes: NodeCounts | None = None
    desired: NodeCounts | None = None
    gpus: GPUCounts | None = None
    last_scale_time: datetime | None = None
    last_scale_reason: str | None = Field(default=None, max_length=1024)
    last_scale_up_time: datetime | None = None
    last_scale_down_time: datetime | None = None
    conditions: list[Condition] | None = Field(default=None, max_length=16)


# --------------------------------------------------------------------------------------------------------
# Whole objects (metadata is the part of ObjectMeta the operator reads)


class ObjectMeta(ApiModel):
    name: str
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class TranslationJob(ApiModel):
    api_version: Literal["portalis.dev/v1alpha1"] = "portalis.dev/v1alpha1"
    kind: Literal["TranslationJob"] = "TranslationJob"
    metadata: ObjectMeta
    spec: TranslationJobSpec
    status: TranslationJobStatus = Field(default_factory=TranslationJobStatus)


class GPUPool(ApiModel):
    api_version: Literal["portalis.dev/v1alpha1"] = "portalis.dev/v1alpha1"
    kind: Literal["GPUPool"] = "GPUPool"
    metadata: ObjectMeta
    spec: GPUPoolSpec
    status: GPUPoolStatus = Field(default_factory=GPUPoolStatus)
