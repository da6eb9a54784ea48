"""A job's figures from its pods: GPU-seconds and cost (cost.account), and progress (progress.aggregate),
written into its status by the state machine (jobs.py). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from portalis_operator.api import Pricing, ProgressStatus, TranslationJobStatus, WorkerStatus
from portalis_operator.cost import Accounting, PodSample, account
from portalis_operator.progress import aggregate
from portalis_operator.snapshot import JobView, NodeView
from portalis_operator.workload import CapacityType


def cost_of(
    view: JobView,
    workers: Sequence[WorkerStatus] | None,
    nodes: Mapping[str, NodeView],
    pricing: Pricing | None,
    now: datetime,
) -> Accounting:
    """status.cost from the pods' run intervals (cost.account keeps the state in status.cost). A pod's
    capacity type is its node's, else the one status.workers recorded for its shard."""
    job = view.job
    types = {w.shard: w.capacity_type for w in workers or ()}
    samples = []
    for shard, pod in view.pods.items():
        if pod.uid is None:
            continue
        ct: CapacityType | None = None
        if pod.node is not None and pod.node in nodes:
            ct = nodes[pod.node].node.capacity_type
        elif types.get(shard) is not None:
            ct = CapacityType.SPOT if types[shard] == "spot" else CapacityType.ON_DEMAND
        start, end = pod.run if pod.run is not None else (None, None)
        samples.append(PodSample(pod.uid, ct, job.spec.gpus_per_worker, start, end))
    return account(job.status.cost, samples, pricing, now)


def update_progress(status: TranslationJobStatus, view: JobView, now: datetime) -> None:
    """status.progress and lastCheckpointTime from the shards' latest reports."""
    shards = [view.pods[s].progress if s in view.pods else None for s in range(view.job.spec.parallelism)]
    agg = aggregate(shards, view.job.spec.parallelism, status.start_time, now)
    previous = status.progress
    if agg.percent is None and previous is not None and previous.percent is not None:
        # A replacement pod (after a reclaim or retry) has not reported yet: a partial sum would make
        # the counts go backwards. Keep the last complete figures until every shard reports again.
        return
    if any(s is not None for s in shards):
        status.progress = ProgressStatus(
            units_total=agg.units_total,
            units_done=agg.units_done,
            units_failed=agg.units_failed,
            percent=agg.percent,
            eta=agg.eta,
        )
        status.last_checkpoint_time = agg.last_checkpoint_time or status.last_checkpoint_time
