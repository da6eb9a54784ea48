from __future__ import annotations

import pytest
from builders import at

from portalis_operator.conditions import derive_phase, find, set_condition

pytestmark = pytest.mark.unit


def test_new_condition_gets_now() -> None:
    out = set_condition(
        None, "Queued", "True", "InsufficientCapacity", "waiting", at(1), observed_generation=2
    )
    (c,) = out
    assert (c.type, c.status, c.reason, c.last_transition_time, c.observed_generation) == (
        "Queued",
        "True",
        "InsufficientCapacity",
        at(1),
        2,
    )


def test_transition_time_changes_only_with_status() -> None:
    first = set_condition(None, "Queued", "True", "InsufficientCapacity", "a", at(1))
    same = set_condition(
        first, "Queued", "True", "WaitingForHigherPriority", "b", at(2), observed_generation=3
    )
    c = find(same, "Queued")
    assert c is not None
    assert c.last_transition_time == at(1)
    assert (c.reason, c.message, c.observed_generation) == ("WaitingForHigherPriority", "b", 3)
    flipped = set_condition(same, "Queued", "False", "Admitted", "c", at(3))
    c = find(flipped, "Queued")
    assert c is not None
    assert c.last_transition_time == at(3)


def test_other_conditions_kept_in_order_and_input_untouched() -> None:
    conds = set_condition(None, "Queued", "True", "R", "", at(0))
    conds = set_condition(conds, "Admitted", "False", "R", "", at(0))
    before = [c.model_copy() for c in conds]
    out = set_condition(conds, "Queued", "False", "R", "", at(1))
    assert [c.type for c in out] == ["Queued", "Admitted"]
    assert conds == before


@pytest.mark.parametrize(
    ("true_types", "phase"),
    [
        ([], "Pending"),
        (["Queued"], "Queued"),
        (["Admitted"], "Admitted"),
        (["Admitted", "Running"], "Running"),
        (["Running", "Recovering"], "Recovering"),
        (["Queued", "Preempted"], "Preempted"),
        (["Running", "Suspended"], "Suspended"),
        (["Running", "Succeeded"], "Succeeded"),
        (["Succeeded", "Failed"], "Failed"),
    ],
)
def test_derive_phase(true_types: list[str], phase: str) -> None:
    conds = set_condition(None, "Queued", "False", "R", "", at(0))
    for t in true_types:
        conds = set_condition(conds, t, "True", "R", "", at(0))
    assert derive_phase(conds) == phase
