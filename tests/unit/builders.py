"""Small builders for test objects, Kueue style: job("a").priority("low").shards(2, gpus=4).obj()."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from portalis_operator import api
from portalis_operator.packing import Node
from portalis_operator.workload import (
    CapacityType,
    JobRequest,
    Priority,
    RunningJob,
    ShardPlacement,
    SpotMode,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """T0 plus `minutes`."""
    return T0 + timedelta(minutes=minutes)


class JobBuilder:
    def __init__(self, name: str) -> None:
        self._job = JobRequest(
            key=f"ns/{name}", priority=Priority.NORMAL, created_at=T0, shards=1, gpus_per_shard=1
        )

    def priority(self, p: str | Priority) -> Self:
        self._job = replace(self._job, priority=p if isinstance(p, Priority) else Priority.parse(p))
        return self

    def shards(self, n: int, gpus: int = 1) -> Self:
        self._job = replace(self._job, shards=n, gpus_per_shard=gpus)
        return self

    def created(self, t: datetime | float) -> Self:
        self._job = replace(self._job, created_at=t if isinstance(t, datetime) else at(t))
        return self

    def queued_since(self, t: datetime | float) -> Self:
        self._job = replace(self._job, queued_since=t if isinstance(t, datetime) else at(t))
        return self

    def spot(self, mode: str | SpotMode) -> Self:
        self._job = replace(self._job, spot=SpotMode(mode))
        return self

    def suspended(self, value: bool = True) -> Self:
        self._job = replace(self._job, suspended=value)
        return self

    def namespace(self, ns: str) -> Self:
        self._job = replace(self._job, key=f"{ns}/{self._job.key.partition('/')[2]}")
        return self

    def obj(self) -> JobRequest:
        return self._job


def job(name: str) -> JobBuilder:
    return JobBuilder(name)


class NodeBuilder:
    def __init__(self, name: str) -> None:
        self._node = Node(name=name, capacity_type=CapacityType.ON_DEMAND, gpus=8)

    def spot(self) -> Self:
        self._node = replace(self._node, capacity_type=CapacityType.SPOT)
        return self

    def on_demand(self) -> Self:
        self._node = replace(self._node, capacity_type=CapacityType.ON_DEMAND)
        return self

    def gpus(self, n: int) -> Self:
        self._node = replace(self._node, gpus=n)
        return self

    def other(self, n: int) -> Self:
        """GPUs held by non-Portalis pods."""
        self._node = replace(self._node, gpus_other=n)
        return self

    def unschedulable(self) -> Self:
        self._node = replace(self._node, schedulable=False)
        return self

    def obj(self) -> Node:
        return self._node


def node(name: str) -> NodeBuilder:
    return NodeBuilder(name)


class RunningBuilder:
    def __init__(self, request: JobRequest) -> None:
        self._request = request
        self._nodes: list[str] = []
        self._started = T0
        self._checkpoint: datetime | None = None
        self._evicting = False

    def on(self, *nodes: str) -> Self:
        """One node name per shard."""
        self._nodes = list(nodes)
        return self

    def started(self, t: datetime | float) -> Self:
        self._started = t if isinstance(t, datetime) else at(t)
        return self

    def checkpoint(self, t: datetime | float) -> Self:
        self._checkpoint = t if isinstance(t, datetime) else at(t)
        return self

    def evicting(self) -> Self:
        self._evicting = True
        return self

    def obj(self) -> RunningJob:
        if len(self._nodes) != self._request.shards:
            raise ValueError("give one node per shard")
        placements = tuple(
            ShardPlacement(i, n, self._request.gpus_per_shard) for i, n in enumerate(self._nodes)
        )
        return RunningJob(self._request, placements, self._started, self._checkpoint, self._evicting)


def running(request: JobRequest) -> RunningBuilder:
    return RunningBuilder(request)


def usage(placements: Sequence[ShardPlacement]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in placements:
        out[p.node] = out.get(p.node, 0) + p.gpus
    return out


class TranslationJobBuilder:
    """API objects (pydantic) for manifest tests."""

    def __init__(self, name: str) -> None:
        self._data: dict[str, Any] = {
            "metadata": {"name": name, "namespace": "team-a", "uid": "0000-1111", "generation": 1},
            "spec": {
                "source": {"git": {"url": "https://example.com/repo.git", "ref": "main"}},
                "output": {"persistentVolumeClaim": {"claimName": "out", "path": "/crates/demo"}},
                "target": {"crateName": "demo"},
            },
        }

    def spec(self, **fields: Any) -> Self:
        self._data["spec"].update(fields)
        return self

    def parallelism(self, n: int, gpus: int = 1) -> Self:
        return self.spec(parallelism=n, gpusPerWorker=gpus)

    def obj(self) -> api.TranslationJob:
        return api.TranslationJob.model_validate(self._data)


def tj(name: str) -> TranslationJobBuilder:
    return TranslationJobBuilder(name)
