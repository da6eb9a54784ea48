"""The leader-election rule (pure): who may act on the scheduling Lease, by whose clock, and the fence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portalis_operator.leadership import (
    Action,
    Fence,
    LeaseTiming,
    NotLeading,
    Observation,
    decide,
    observe,
)

pytestmark = pytest.mark.unit

NOW = 1000.0  # this replica's monotonic clock


def seen(holder: str | None, at: float, duration: float = 15.0, version: str = "1") -> Observation:
    return Observation(holder, version, duration, at)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, Action.CREATE),
        (seen("me", NOW - 600), Action.RENEW),
        (seen("other", NOW - 5), Action.FOLLOW),
        (seen("other", NOW - 15), Action.TAKE_OVER),
        (seen(None, NOW), Action.TAKE_OVER),
        (seen("", NOW), Action.TAKE_OVER),
    ],
    ids=["none", "mine-even-if-stale", "fresh-other", "unchanged-for-a-lease", "released", "empty-holder"],
)
def test_decide(state: Observation | None, expected: Action) -> None:
    assert decide(state, "me", NOW) is expected


def test_age_restarts_only_when_the_record_changes() -> None:
    first = observe(None, "other", "7", 15.0, NOW)
    # read again later, unchanged: still aged from the first sighting, so it expires on our clock
    assert observe(first, "other", "7", 15.0, NOW + 14) is first
    assert decide(observe(first, "other", "7", 15.0, NOW + 15), "me", NOW + 15) is Action.TAKE_OVER
    # renewed (new resourceVersion): the age restarts now, whatever renewTime the holder wrote
    renewed = observe(first, "other", "8", 15.0, NOW + 14)
    assert renewed.observed_at == NOW + 14
    assert decide(renewed, "me", NOW + 20) is Action.FOLLOW


def test_the_rule_reads_no_wall_clock() -> None:
    # Nothing in an Observation comes from the holder's clock: skew cannot make a fresh lease look expired.
    assert set(Observation.__dataclass_fields__) == {"holder", "version", "duration", "observed_at"}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


def test_fence_closes_at_the_renew_deadline_by_the_holders_clock() -> None:
    clock = FakeClock()
    fence = Fence.elected(clock)
    assert not fence.open()
    with pytest.raises(NotLeading):
        fence.check()
    fence.extend_to(10.0)  # renewal started at 0, renew deadline 10
    clock.t = 9.99
    fence.check()
    clock.t = 10.0
    assert not fence.open()
    fence.extend_to(20.0)
    fence.close()  # a 409 on renewal: someone else holds it now
    assert not fence.open()


def test_standalone_fence_is_always_open() -> None:
    fence = Fence(FakeClock())
    fence.check()
    assert fence.open()


def test_the_holder_stops_before_a_standby_may_start() -> None:
    timing = LeaseTiming(duration=15, renew_deadline=10, retry_period=2)
    # The holder's renewal starts at its t=0; a standby observes the new record no earlier than that.
    holder_stops = 0 + timing.renew_deadline
    standby_starts = 0 + timing.duration
    assert holder_stops < standby_starts
    with pytest.raises(ValueError, match="renew_deadline"):
        LeaseTiming(duration=10, renew_deadline=10, retry_period=2)


def test_settings_refuse_a_renew_deadline_past_the_lease() -> None:
    from pydantic import ValidationError

    from portalis_operator.settings import Settings

    with pytest.raises(ValidationError, match="LEASE_RENEW_DEADLINE"):
        Settings(lease_duration_seconds=5, lease_renew_deadline_seconds=6)
