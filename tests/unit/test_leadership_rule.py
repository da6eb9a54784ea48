"""The leader-election rule (pure): who may act on the scheduling Lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portalis_operator.leadership import Action, LeaseState, decide

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
FRESH = LeaseState("other", NOW - timedelta(seconds=5), timedelta(seconds=15))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, Action.CREATE),
        (LeaseState("me", NOW - timedelta(seconds=60), timedelta(seconds=15)), Action.RENEW),
        (FRESH, Action.FOLLOW),
        (LeaseState("other", NOW - timedelta(seconds=15), timedelta(seconds=15)), Action.TAKE_OVER),
        (LeaseState(None, NOW, timedelta(seconds=15)), Action.TAKE_OVER),
        (LeaseState("other", None, timedelta(seconds=15)), Action.TAKE_OVER),
    ],
    ids=["none", "mine-even-if-stale", "fresh-other", "expired-other", "released", "never-renewed"],
)
def test_decide(state: LeaseState | None, expected: Action) -> None:
    assert decide(state, "me", NOW) is expected
