"""Events per object are rate-limited like client-go's recorder (events.EventBudget), on a clock passed in."""

from __future__ import annotations

import pytest

from portalis_operator.events import EventBudget

pytestmark = pytest.mark.unit


def test_a_burst_then_one_per_refill_period() -> None:
    budget = EventBudget(burst=3, refill_seconds=10)
    assert [budget.allow("job", 0.0) for _ in range(5)] == [True, True, True, False, False]
    assert not budget.allow("job", 9.0)
    assert budget.allow("job", 10.0)  # one token back after a refill period
    assert not budget.allow("job", 10.5)
    assert budget.allow("other", 10.5)  # per object


def test_a_job_that_only_moves_forward_never_hits_the_default_budget() -> None:
    budget = EventBudget()
    lifecycle = ["Queued", "Admitted", "Running", "Reclaimed", "Recovering", "Running", "Succeeded"]
    assert all(budget.allow("job", float(t)) for t, _ in enumerate(lifecycle))


def test_objects_with_a_full_bucket_are_forgotten() -> None:
    budget = EventBudget(burst=2, refill_seconds=10)
    budget.allow("a", 0.0)
    budget.allow("b", 15.0)
    budget.prune(15.0)
    assert set(budget._buckets) == {"b"}  # a refilled (one token in 10 s, it had one left)
