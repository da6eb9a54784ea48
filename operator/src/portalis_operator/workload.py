"""The scheduler's view of jobs: plain frozen values, built by handlers from TranslationJob objects.

Policies (queueing, admission, preemption, placement) take these and return decisions; none of them
reads the API or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum


class Priority(IntEnum):
    """Queue priority; larger is more urgent. The wire form is the lower-case name."""

    BACKGROUND = 0
    LOW = 1
    NORMAL = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Priority:
        return cls[name.upper()]

    @property
    def wire(self) -> str:
        return self.name.lower()


class SpotMode(StrEnum):
    """Where a job's workers may run: spot first (preferred), spot only (required), on-demand only (never)."""

    PREFERRED = "preferred"
    REQUIRED = "required"
    NEVER = "never"


class CapacityType(StrEnum):
    """Value of the pool's capacity-type node label."""

    SPOT = "spot"
    ON_DEMAND = "on-demand"


@dataclass(frozen=True)
class JobRequest:
    """A job that asks for capacity.

    `spot` is the *effective* mode (placement.effective_spot_mode), not the raw spec field.
    `queued_since` is when the job last entered the queue (creation, or requeue after preemption);
    aging counts from it so that time spent running is not credited as waiting.
    """

    key: str
    priority: Priority
    created_at: datetime
    shards: int
    gpus_per_shard: int
    spot: SpotMode = SpotMode.PREFERRED
    suspended: bool = False
    queued_since: datetime | None = None
    output_in_use_by: str | None = None
    """Key of the live job that holds this job's output path (output_paths.py): it waits for it."""

    def __post_init__(self) -> None:
        if self.shards < 1 or self.gpus_per_shard < 1:
            raise ValueError(f"{self.key}: shards and gpus_per_shard must be >= 1")

    @property
    def gpus(self) -> int:
        return self.shards * self.gpus_per_shard

    @property
    def waiting_since(self) -> datetime:
        return self.queued_since or self.created_at


@dataclass(frozen=True)
class ShardPlacement:
    """One worker shard bound to one node."""

    shard: int
    node: str
    gpus: int


@dataclass(frozen=True)
class RunningJob:
    """An admitted job and the GPUs its shards hold (whether or not their pods are bound yet).

    `evicting` marks a job already told to checkpoint and leave (a victim of an earlier cycle): its GPUs
    stay held until its pods are gone, and a new preemption plan picks it first since it costs nothing.
    """

    job: JobRequest
    placements: tuple[ShardPlacement, ...]
    started_at: datetime
    last_checkpoint_at: datetime | None = None
    evicting: bool = False

    def work_at_risk_seconds(self, now: datetime) -> float:
        """Seconds of work an eviction now would lose: time since the last checkpoint (or the start)."""
        since = self.last_checkpoint_at or self.started_at
        return max(0.0, (now - since).total_seconds())
