"""cost.account: GPU-seconds across pod lifetimes, with all state in status.cost (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portalis_operator import api
from portalis_operator.cost import PodSample, account
from portalis_operator.workload import CapacityType

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND
PRICES = api.Pricing.model_validate({"spotPerGPUHour": 1.0, "onDemandPerGPUHour": 3.0})


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_a_reclaimed_pod_is_closed_once_and_its_replacement_adds_up() -> None:
    first = account(None, [PodSample("a", SPOT, 8, T0)], PRICES, at(100))
    assert first.cost is not None
    assert first.cost.gpu_seconds_spot == 800
    gone = account(first.cost, [], PRICES, at(100))  # vanished (node deleted)
    assert gone.cost is not None
    assert gone.cost.closed_gpu_seconds_spot == 800
    assert gone.closed_now.spot == 800
    again = account(gone.cost, [PodSample("b", OD, 8, at(110), at(210))], PRICES, at(300))
    assert again.cost is not None
    assert (again.cost.gpu_seconds_spot, again.cost.gpu_seconds_on_demand) == (800, 800)
    assert again.cost.estimated_usd == pytest.approx(800 / 3600 * 1 + 800 / 3600 * 3, abs=1e-5)
    # the finished pod is still there: nothing is added twice and nothing needs writing
    settled = account(again.cost, [PodSample("b", OD, 8, at(110), at(210))], PRICES, at(400))
    assert settled.cost is None
    assert settled.closed_now.on_demand == 0


def test_running_cost_is_refreshed_at_most_every_30_seconds() -> None:
    first = account(None, [PodSample("a", SPOT, 1, T0)], None, at(10))
    assert first.cost is not None
    assert first.cost.estimated_usd is None
    assert account(first.cost, [PodSample("a", SPOT, 1, T0)], None, at(20)).cost is None
    later = account(first.cost, [PodSample("a", SPOT, 1, T0)], None, at(41))
    assert later.cost is not None
    assert later.cost.gpu_seconds_spot == 41


def test_a_pod_that_never_ran_costs_nothing() -> None:
    assert account(None, [PodSample("a", SPOT, 8, None)], PRICES, at(10)).cost is None
