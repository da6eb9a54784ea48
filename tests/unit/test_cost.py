from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from builders import T0
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator import api
from portalis_operator.cost import (
    GPUSeconds,
    RunInterval,
    close,
    estimate_usd,
    gpu_seconds,
    job_cost,
    run_interval,
)
from portalis_operator.workload import CapacityType

pytestmark = pytest.mark.unit

SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND
PRICES = api.Pricing(spot_per_gpu_hour=1.0, on_demand_per_gpu_hour=3.0)


def secs(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def test_gpu_seconds_by_capacity_type_with_open_intervals() -> None:
    intervals = [
        RunInterval(SPOT, 8, secs(0), secs(3600)),
        RunInterval(SPOT, 2, secs(100), None),  # still running: counts up to now
        RunInterval(OD, 4, secs(0), secs(1800)),
    ]
    assert gpu_seconds(intervals, secs(200)) == GPUSeconds(spot=8 * 3600 + 2 * 100, on_demand=4 * 1800)


def test_usd_from_prices_per_gpu_hour() -> None:
    assert estimate_usd(GPUSeconds(spot=3600 * 8, on_demand=3600 * 2), PRICES) == pytest.approx(8 + 6)


def test_no_price_no_estimate() -> None:
    usage = GPUSeconds(spot=3600, on_demand=3600)
    assert estimate_usd(usage, None) is None
    assert estimate_usd(usage, api.Pricing(spot_per_gpu_hour=1.0)) is None  # on-demand used, no price
    assert estimate_usd(GPUSeconds(spot=3600), api.Pricing(spot_per_gpu_hour=1.0)) == pytest.approx(1.0)


def test_job_cost_accumulates_closed_and_running() -> None:
    closed = close(GPUSeconds(), [RunInterval(SPOT, 1, secs(0), secs(600))], secs(1000))
    status = job_cost(closed, [RunInterval(OD, 2, secs(600), None)], PRICES, secs(1200))
    assert status.to_wire() == {"gpuSecondsSpot": 600, "gpuSecondsOnDemand": 1200, "estimatedUSD": 1.166667}
    assert GPUSeconds.from_status(status) == GPUSeconds(600, 1200)
    assert job_cost(closed, [], None, secs(0)).estimated_usd is None


def test_run_interval_from_pod() -> None:
    running = {
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "containerStatuses": [
                {"state": {"running": {"startedAt": "2026-01-01T00:00:10Z"}}},
                {"state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}},
            ],
        }
    }
    assert run_interval(running, SPOT, 8) == RunInterval(SPOT, 8, secs(5), None)
    done = {
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "state": {
                        "terminated": {
                            "startedAt": "2026-01-01T00:00:05Z",
                            "finishedAt": "2026-01-01T00:01:00Z",
                        }
                    }
                },
                {
                    "state": {
                        "terminated": {
                            "startedAt": "2026-01-01T00:00:05Z",
                            "finishedAt": "2026-01-01T00:02:00Z",
                        }
                    }
                },
            ],
        }
    }
    assert run_interval(done, OD, 1) == RunInterval(OD, 1, secs(5), secs(120))
    assert run_interval({"status": {"phase": "Pending"}}, OD, 1) is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from([SPOT, OD]), st.integers(1, 8), st.integers(0, 10_000), st.integers(0, 10_000)
        ),
        max_size=10,
    ),
    st.floats(0, 10),
    st.floats(0, 10),
)
def test_usd_is_monotone_and_linear(
    raw: list[tuple[CapacityType, int, int, int]], sp: float, od: float
) -> None:
    intervals = [RunInterval(ct, g, secs(a), secs(a + d)) for ct, g, a, d in raw]
    usage = gpu_seconds(intervals, secs(0))
    assert usage.spot >= 0
    assert usage.on_demand >= 0
    usd = estimate_usd(usage, api.Pricing(spot_per_gpu_hour=sp, on_demand_per_gpu_hour=od))
    assert usd == pytest.approx((usage.spot * sp + usage.on_demand * od) / 3600, abs=1e-5)
