"""Conditions per Kubernetes API conventions, and the phase they imply.

`lastTransitionTime` changes only when a condition's status changes; reason, message and
observedGeneration are updated in place. The phase is a summary derived from the conditions, never
stored on its own, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from portalis_operator.api import Condition, ConditionStatus, Phase

QUEUED = "Queued"
ADMITTED = "Admitted"
RUNNING = "Running"
PREEMPTED = "Preempted"
RECOVERING = "Recovering"
SUSPENDED = "Suspended"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
# kstatus' convention: the operator cannot make progress on this object (reason says why). Not a phase:
# the job keeps the phase it had, and the condition turns False once the job is planned again.
STALLED = "Stalled"

# First true condition wins: terminal states, then what stops work, then how far the job got.
_PHASE_ORDER: tuple[tuple[str, Phase], ...] = (
    (FAILED, "Failed"),
    (SUCCEEDED, "Succeeded"),
    (SUSPENDED, "Suspended"),
    (PREEMPTED, "Preempted"),
    (RECOVERING, "Recovering"),
    (RUNNING, "Running"),
    (ADMITTED, "Admitted"),
    (QUEUED, "Queued"),
)


def find(conditions: Sequence[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or () if c.type == type_), None)


def is_true(conditions: Sequence[Condition] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.status == "True"


def set_condition(
    conditions: Sequence[Condition] | None,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    observed_generation: int | None = None,
) -> list[Condition]:
    """A new list with `type_` set; the others kept in order. Input is not modified."""
    out: list[Condition] = []
    replaced = False
    for c in conditions or ():
        if c.type != type_:
            out.append(c)
            continue
        changed = c.status != status
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now if changed else c.last_transition_time,
                observed_generation=observed_generation,
            )
        )
        replaced = True
    if not replaced:
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now,
                observed_generation=observed_generation,
            )
        )
    return out


def derive_phase(conditions: Sequence[Condition] | None) -> Phase:
    """Pending until the operator has set any condition."""
    for type_, phase in _PHASE_ORDER:
        if is_true(conditions, type_):
            return phase
    return "Pending"
