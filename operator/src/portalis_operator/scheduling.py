"""Admission over the cycle's views: the policy the cycle passes and the one call (`schedule`).

cycle.plan_cycle builds the queue, the pool's free capacity and the running jobs with their placements,
calls `schedule`, and plans each job from the decision: pods for `admitted`, status.queue for `waiting`,
checkpoint-and-evict for `preemption.victims` (requeued once gone). The rules live in queueing.py (order
and aging), admission.py (fit, reservation, backfill) and preemption.py (victims).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portalis_operator.admission import AdmissionResult, admit
from portalis_operator.packing import Node
from portalis_operator.preemption import PreemptionPolicy
from portalis_operator.queueing import AgingPolicy
from portalis_operator.quotas import NO_QUOTAS, NamespaceQuotas
from portalis_operator.workload import JobRequest, RunningJob


@dataclass(frozen=True)
class SchedulingPolicy:
    aging: AgingPolicy = field(default_factory=AgingPolicy)
    preemption: PreemptionPolicy = field(default_factory=PreemptionPolicy)


def schedule(
    queued: Sequence[JobRequest],
    nodes: Sequence[Node],
    running: Sequence[RunningJob],
    now: datetime,
    policy: SchedulingPolicy | None = None,
    quotas: NamespaceQuotas = NO_QUOTAS,
) -> AdmissionResult:
    """`quotas` come from the GPUPool (read every cycle), the policy from the operator's settings."""
    policy = policy or SchedulingPolicy()
    return admit(queued, nodes, running, now, policy.aging, policy.preemption, quotas)
