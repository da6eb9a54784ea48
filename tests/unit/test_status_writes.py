"""How many status writes a job costs on its way from admission to Running: the plans of the cycles that
see it admitted, its pod created, bound and running, each applied to the job as the API server would
store it. Every write is a request to an API server that, under a burst, bounds admission throughput
(benchmarks/README.md): the admission record and the Running status are the only two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portalis_operator.admission import Admitted
from portalis_operator.api import TranslationJob
from portalis_operator.jobs import Context, JobPlan, plan_job
from portalis_operator.occupancy import running_of
from portalis_operator.packing import Node
from portalis_operator.recovery import NodeTrouble
from portalis_operator.snapshot import JobView, NodeView, PodView
from portalis_operator.workload import CapacityType, ShardPlacement

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NODES = {
    "od": NodeView(Node("od", CapacityType.ON_DEMAND, 8), NodeTrouble.NONE),
    "sp": NodeView(Node("sp", CapacityType.SPOT, 8), NodeTrouble.NONE),
}


def new_job(shards: int) -> TranslationJob:
    return TranslationJob.model_validate(
        {
            "metadata": {
                "name": "j",
                "namespace": "ns",
                "uid": "uid-j",
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": T0.isoformat(),
            },
            "spec": {
                "source": {"configMap": {"name": "src"}},
                "output": {"configMap": {"name": "out"}},
                "target": {"crateName": "c"},
                "parallelism": shards,
            },
        }
    )


def stored(job: TranslationJob, plan: JobPlan) -> TranslationJob:
    return job if plan.status is None else job.model_copy(update={"status": plan.status})


def pods(phase: str, nodes: list[str | None], started: datetime | None = None) -> dict[int, PodView]:
    return {
        s: PodView(
            name=f"j-w{s}",
            shard=s,
            phase=phase,
            node=n,
            uid=f"u{s}",
            run=(started, None) if started is not None else None,
        )
        for s, n in enumerate(nodes)
    }


@pytest.mark.parametrize("placed", [["od"], ["od", "sp"]])
def test_admission_to_running_costs_two_status_writes(placed: list[str]) -> None:
    job = new_job(len(placed))
    request = running_of(JobView(job), {}).job
    now = T0 + timedelta(seconds=5)
    admitted = plan_job(
        JobView(job),
        Admitted(request, tuple(ShardPlacement(s, n, 1) for s, n in enumerate(placed))),
        None,
        Context(NODES, now),
    )
    assert admitted.status is not None
    assert admitted.create == list(range(len(placed)))
    workers = admitted.status.workers or []
    assert [(w.node, w.capacity_type, w.phase) for w in workers] == [
        (n, "on-demand" if n == "od" else "spot", "Pending") for n in placed
    ]
    job = stored(job, admitted)
    writes = ["admitted"]
    steps: list[tuple[str, dict[int, PodView]]] = [
        ("created", pods("Pending", [None] * len(placed))),
        ("bound", pods("Pending", list(placed))),
        ("running", pods("Running", list(placed), started=now)),
        ("still running", pods("Running", list(placed), started=now)),
    ]
    for step, (label, views) in enumerate(steps, start=1):
        plan = plan_job(JobView(job, views), None, None, Context(NODES, now + timedelta(seconds=step)))
        assert plan.create == []
        if plan.status is not None:
            writes.append(label)
        job = stored(job, plan)
    assert writes == ["admitted", "running"]
    assert job.status.phase == "Running"
