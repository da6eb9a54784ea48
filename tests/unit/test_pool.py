"""pool.py's pure parts: which waiting jobs are demand, and what the autoscaler sees of the nodes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portalis_operator.admission import Waiting, WaitReason
from portalis_operator.packing import Node
from portalis_operator.pool import activity, demand_jobs
from portalis_operator.recovery import NodeTrouble
from portalis_operator.snapshot import NodeView
from portalis_operator.workload import CapacityType, JobRequest, Priority

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def waiting(reason: WaitReason, name: str = "j", suspended: bool = False) -> Waiting:
    job = JobRequest(name, Priority.NORMAL, T0, 1, 8, suspended=suspended)
    return Waiting(job, reason, 1, Priority.NORMAL)


def test_only_jobs_waiting_for_capacity_are_demand() -> None:
    ws = [
        waiting(WaitReason.INSUFFICIENT_CAPACITY, "a"),
        waiting(WaitReason.SUSPENDED, "b", suspended=True),
        waiting(WaitReason.PREEMPTING, "c"),
        waiting(WaitReason.EXCEEDS_POOL_CAPACITY, "d"),  # decide() keeps it only if it fits at max
        waiting(WaitReason.WAITING_FOR_HIGHER_PRIORITY, "e"),
    ]
    assert [j.key for j in demand_jobs(ws)] == ["a", "d", "e"]


def test_nodes_still_provisioning_count_as_busy_capacity_and_leaving_nodes_do_not() -> None:
    nodes = {
        "od-0": NodeView(Node("od-0", CapacityType.ON_DEMAND, 8)),
        "spot-0": NodeView(Node("spot-0", CapacityType.SPOT, 8), NodeTrouble.NOTICE),
    }
    out = activity(nodes, {"od-0"}, {}, {CapacityType.SPOT: 3, CapacityType.ON_DEMAND: 1})
    by_name = {a.name: a for a in out}
    assert by_name["od-0"].busy
    assert not by_name["od-0"].leaving
    assert by_name["spot-0"].leaving
    placeholders = [a for a in out if a.name.startswith("<provisioning")]
    assert len(placeholders) == 2
    assert all(a.busy and a.capacity_type is CapacityType.SPOT for a in placeholders)
