from __future__ import annotations

from datetime import timedelta

import pytest
from builders import T0, at, job
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.queueing import AgingPolicy, effective_priority, queue_order
from portalis_operator.workload import Priority

pytestmark = pytest.mark.unit

AGING = AgingPolicy(interval=timedelta(minutes=10))


@pytest.mark.parametrize(
    ("base", "waited_min", "expected"),
    [
        ("background", 0, "background"),
        ("background", 9.9, "background"),
        ("background", 10, "low"),
        ("background", 20, "normal"),
        ("background", 30, "high"),
        ("background", 1000, "high"),  # the ceiling
        ("low", 25, "high"),
        ("normal", 10, "high"),
        ("high", 1000, "high"),
        ("critical", 0, "critical"),
    ],
)
def test_aging_table(base: str, waited_min: float, expected: str) -> None:
    j = job("a").priority(base).created(0).obj()
    assert effective_priority(j, at(waited_min), AGING) == Priority.parse(expected)


def test_aging_counts_from_requeue_not_creation() -> None:
    j = job("a").priority("low").created(0).queued_since(100).obj()
    assert effective_priority(j, at(105), AGING) == Priority.LOW
    assert effective_priority(j, at(110), AGING) == Priority.NORMAL


def test_clock_before_creation_does_not_age_backwards() -> None:
    j = job("a").priority("low").created(10).obj()
    assert effective_priority(j, at(0), AGING) == Priority.LOW


@pytest.mark.parametrize(
    ("jobs", "now", "expected"),
    [
        # priority first
        ([("a", "low", 0), ("b", "critical", 5), ("c", "normal", 1)], 0, ["b", "c", "a"]),
        # then creation time
        ([("a", "normal", 3), ("b", "normal", 1), ("c", "normal", 2)], 3, ["b", "c", "a"]),
        # an old low job ages past a new normal one...
        ([("new", "normal", 30), ("old", "low", 0)], 30, ["old", "new"]),
        # ...but not past a critical one, and only up to high (older high jobs stay ahead)
        (
            [("crit", "critical", 100), ("old", "background", 0), ("hi", "high", -1)],
            100,
            ["crit", "hi", "old"],
        ),
    ],
)
def test_queue_order_table(jobs: list[tuple[str, str, float]], now: float, expected: list[str]) -> None:
    queue = [job(n).priority(p).created(t).obj() for n, p, t in jobs]
    assert [j.key.split("/")[1] for j in queue_order(queue, at(now), AGING)] == expected


def test_aging_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        AgingPolicy(interval=timedelta(0))


priorities = st.sampled_from(list(Priority))
minutes = st.floats(min_value=0, max_value=10_000, allow_nan=False)


@given(base=priorities, w1=minutes, w2=minutes)
def test_aging_is_monotone_and_bounded(base: Priority, w1: float, w2: float) -> None:
    j = job("a").priority(base).created(0).obj()
    lo, hi = sorted((w1, w2))
    e1, e2 = effective_priority(j, at(lo), AGING), effective_priority(j, at(hi), AGING)
    assert base <= e1 <= e2
    assert e2 <= max(base, Priority.HIGH)
    if base < Priority.HIGH:
        assert e2 < Priority.CRITICAL


@given(
    base=st.sampled_from([Priority.BACKGROUND, Priority.LOW, Priority.NORMAL, Priority.HIGH]),
    later=st.lists(
        st.tuples(st.sampled_from([p for p in Priority if p != Priority.CRITICAL]), st.floats(0.001, 500)),
        max_size=6,
    ),
)
def test_aging_bounds_waiting(base: Priority, later: list[tuple[Priority, float]]) -> None:
    """After (high - base) intervals, a job is ahead of every non-critical job created after it."""
    old = job("old").priority(base).created(0).obj()
    now = T0 + AGING.interval * (Priority.HIGH - base) + timedelta(minutes=1)
    others = [job(f"j{i}").priority(p).created(t).obj() for i, (p, t) in enumerate(later)]
    assert queue_order([*others, old], now, AGING)[0] == old
