"""The operator's one settings object, read from the environment once at start-up and passed down.

Every variable is `PORTALIS_OPERATOR_<FIELD>`; an invalid value stops the operator at start-up with a
message naming the variable, instead of failing later deep inside a handler.
"""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portalis_operator.manifests import WorkerPodSettings
from portalis_operator.preemption import PreemptionPolicy
from portalis_operator.quantity import parse_quantity
from portalis_operator.queueing import AgingPolicy
from portalis_operator.scheduling import SchedulingPolicy
from portalis_operator.startup import StartPolicy

_POD = WorkerPodSettings(image="")  # the worker pod defaults, stated once
# A storage quantity: a whole number of bytes with an optional binary or decimal suffix ("20Gi", "500M").
_STORAGE = r"^[1-9][0-9]{0,15}(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"
# A CPU quantity: whole cores or millicores ("2", "500m").
_CPU = r"^[1-9][0-9]{0,5}m?$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTALIS_OPERATOR_", frozen=True, extra="ignore")

    namespaces: list[str] = Field(default_factory=list, description="watched namespaces; empty: all")
    pool: str = Field(default="default", min_length=1, description="GPUPool this operator schedules onto")
    pool_label: str = Field(default="portalis.dev/pool", description="node label naming a node's pool")
    resync_seconds: float = Field(default=5.0, gt=0, le=300, description="scheduling cycle without events")
    debounce_seconds: float = Field(default=0.05, ge=0, le=5, description="coalesce bursts of events")
    api_concurrency: int = Field(default=32, ge=1, le=512, description="parallel pod creations/deletions")
    aging_interval_seconds: int = Field(default=900, ge=1, description="wait that lifts a job one level")
    preemption_min_runtime_seconds: int = Field(default=300, ge=0)
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="0 disables the metrics server")
    health_port: int = Field(
        default=8080, ge=0, le=65535, description="/livez, /readyz (health.py); 0 disables"
    )
    leader_election: bool = Field(
        default=False, description="several replicas: only the holder of the Lease schedules (leadership.py)"
    )
    lease_duration_seconds: float = Field(default=15, gt=0, le=300, description="a standby takes over after")
    lease_renew_deadline_seconds: float = Field(
        default=10, gt=0, description="the leader stops writing this long after its last renewal started"
    )
    lease_retry_seconds: float = Field(default=2, gt=0, description="between election rounds")
    log_level: Literal["quiet", "info", "verbose", "debug"] = "info"
    lease_namespace: str = Field(default="default", description="where the leader-election Lease lives")
    identity: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
        description="this replica's name in the Lease (the chart sets the pod name)",
    )
    stale_after_seconds: float = Field(
        default=120, gt=0, description="not ready when its role (Lease, or a standalone cycle) is older"
    )
    worker_image: str = Field(default="portalis/worker:0.1.0", min_length=1)
    triton_image: str = Field(default="portalis/triton:0.1.0", min_length=1)
    worker_service_account: str = Field(default="portalis-worker", min_length=1)
    worker_network_policy: bool = Field(
        default=True, description="create the worker NetworkPolicy in each job namespace (network_policy.py)"
    )
    worker_grace_seconds: int = Field(default=120, ge=1, le=3600, description="checkpoint flush time")
    start_timeout_seconds: int = Field(
        default=600, ge=10, le=86400, description="admitted with no worker running this long: StartTimeout"
    )
    ledger_claim_name: str | None = None
    # emptyDir sizeLimits and the worker container's ephemeral storage (manifests.WorkerPodSettings).
    worker_scratch_size_limit: str = Field(default=_POD.scratch_size_limit, pattern=_STORAGE)
    worker_source_size_limit: str = Field(default=_POD.source_size_limit, pattern=_STORAGE)
    worker_output_size_limit: str = Field(default=_POD.output_size_limit, pattern=_STORAGE)
    worker_ledger_size_limit: str = Field(default=_POD.ledger_size_limit, pattern=_STORAGE)
    worker_ephemeral_storage_request: str = Field(default=_POD.ephemeral_storage_request, pattern=_STORAGE)
    worker_ephemeral_storage_limit: str = Field(default=_POD.ephemeral_storage_limit, pattern=_STORAGE)
    # CPU and memory of the worker container: sized for a DGX node; small clusters (the local real
    # nodes have 2 cores) lower them.
    worker_cpu_request: str = Field(default=_POD.cpu_request, pattern=_CPU)
    worker_memory_request: str = Field(default=_POD.memory_request, pattern=_STORAGE)
    worker_memory_limit: str = Field(default=_POD.memory_limit, pattern=_STORAGE)

    @field_validator("pool")
    @classmethod
    def _dns_label(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", v) or len(v) > 63:
            raise ValueError("must be a DNS label (lower-case letters, digits and '-', at most 63)")
        return v

    @model_validator(mode="after")
    def _lease_timing(self) -> Settings:
        if not self.lease_retry_seconds < self.lease_renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "PORTALIS_OPERATOR_LEASE_RETRY_SECONDS < PORTALIS_OPERATOR_LEASE_RENEW_DEADLINE_SECONDS < "
                "PORTALIS_OPERATOR_LEASE_DURATION_SECONDS is needed: the leader must stop writing before a "
                "standby may take over"
            )
        return self

    @model_validator(mode="after")
    def _request_within_limit(self) -> Settings:
        request = parse_quantity(self.worker_ephemeral_storage_request)
        if request > parse_quantity(self.worker_ephemeral_storage_limit):
            raise ValueError(
                "PORTALIS_OPERATOR_WORKER_EPHEMERAL_STORAGE_REQUEST must not exceed "
                "PORTALIS_OPERATOR_WORKER_EPHEMERAL_STORAGE_LIMIT"
            )
        if parse_quantity(self.worker_memory_request) > parse_quantity(self.worker_memory_limit):
            raise ValueError(
                "PORTALIS_OPERATOR_WORKER_MEMORY_REQUEST must not exceed "
                "PORTALIS_OPERATOR_WORKER_MEMORY_LIMIT"
            )
        return self

    def scheduling_policy(self) -> SchedulingPolicy:
        return SchedulingPolicy(
            aging=AgingPolicy(interval=timedelta(seconds=self.aging_interval_seconds)),
            preemption=PreemptionPolicy(min_runtime=timedelta(seconds=self.preemption_min_runtime_seconds)),
        )

    def start_policy(self) -> StartPolicy:
        return StartPolicy(timeout=timedelta(seconds=self.start_timeout_seconds))

    def worker_pod_settings(self, capacity_type_label: str) -> WorkerPodSettings:
        return WorkerPodSettings(
            image=self.worker_image,
            triton_image=self.triton_image,
            capacity_type_label=capacity_type_label,
            termination_grace_seconds=self.worker_grace_seconds,
            service_account=self.worker_service_account,
            ledger_claim_name=self.ledger_claim_name,
            scratch_size_limit=self.worker_scratch_size_limit,
            source_size_limit=self.worker_source_size_limit,
            output_size_limit=self.worker_output_size_limit,
            ledger_size_limit=self.worker_ledger_size_limit,
            ephemeral_storage_request=self.worker_ephemeral_storage_request,
            ephemeral_storage_limit=self.worker_ephemeral_storage_limit,
            cpu_request=self.worker_cpu_request,
            memory_request=self.worker_memory_request,
            memory_limit=self.worker_memory_limit,
        )
