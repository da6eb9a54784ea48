"""What a scheduling cycle keeps of the previous one, so that a quiet cycle costs what changed: each
job's occupancy (occupancy.holds_capacity, running_of, displaced_shards) and its queue request
(occupancy.request_of), recomputed only when the job's object, its worker pods or the pool's nodes
changed. A cache, never a decision of its own: plan_cycle plans the same with or without it.

It keeps only what the last cycle used: an entry holds the job's model it was computed from, and a kept
entry of a job that no longer asks (a queued job's request once it runs) would keep that job's old model
alive beside the cache's current one, doubling the operator's memory per running job.

"Changed" is identity: the informers replace a job's model and a pod's view on every change (cache.py)
and never mutate one in place, so the same objects mean the same inputs. The nodes are compared by
what occupancy reads of them (name, trouble, cordoned); any difference recomputes every job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portalis_operator.api import TranslationJob
from portalis_operator.occupancy import displaced_shards, holds_capacity, request_of, running_of
from portalis_operator.snapshot import JobView, NodeView, PodView
from portalis_operator.workload import JobRequest, RunningJob


@dataclass(frozen=True)
class Occupancy:
    """What a job holds of the pool: `running` when it holds capacity (occupancy.holds_capacity), the
    shards that need a (new) node (occupancy.displaced_shards)."""

    running: RunningJob | None
    displaced: tuple[int, ...]


class Carryover:
    def __init__(self) -> None:
        self._occupancy: dict[str, tuple[TranslationJob, tuple[PodView, ...], Occupancy]] = {}
        self._requests: dict[str, tuple[TranslationJob, str | None, JobRequest]] = {}
        self._requested: dict[str, tuple[TranslationJob, str | None, JobRequest]] = {}  # this cycle's
        self._nodes: tuple[tuple[str, object, bool], ...] | None = None

    def start(self, views: Sequence[JobView], nodes: Mapping[str, NodeView]) -> None:
        """A new cycle over `views` and `nodes`: forget the jobs that are gone, every occupancy when the
        nodes changed, and the requests the last cycle did not ask for."""
        sig = tuple((name, v.trouble, v.cordoned) for name, v in nodes.items())
        if sig != self._nodes:
            self._occupancy.clear()
            self._nodes = sig
        if len(self._occupancy) > len(views):
            keys = {v.key for v in views}
            self._occupancy = {k: e for k, e in self._occupancy.items() if k in keys}
        self._requests, self._requested = self._requested, {}

    def occupancy(self, view: JobView, nodes: Mapping[str, NodeView]) -> Occupancy:
        pods = tuple(view.pods.values())
        hit = self._occupancy.get(view.key)
        if hit is not None and hit[0] is view.job and _same(hit[1], pods):
            return hit[2]
        occupancy = Occupancy(
            running=running_of(view, nodes) if holds_capacity(view) else None,
            displaced=tuple(displaced_shards(view, nodes)),
        )
        self._occupancy[view.key] = (view.job, pods, occupancy)
        return occupancy

    def request(self, key: str, job: TranslationJob, output_in_use_by: str | None) -> JobRequest:
        hit = self._requests.get(key)
        if hit is None or hit[0] is not job or hit[1] != output_in_use_by:
            hit = (job, output_in_use_by, request_of(job, output_in_use_by))
        self._requested[key] = hit
        return hit[2]


def _same(a: tuple[PodView, ...], b: tuple[PodView, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
