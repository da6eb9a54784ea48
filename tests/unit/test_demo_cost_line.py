"""The demo's cost summary line, from a TranslationJob's status.cost."""

from __future__ import annotations

import pytest

from portalis_dev.demo import cost_line

pytestmark = pytest.mark.unit


def test_cost_line_names_both_capacity_types_and_the_estimate() -> None:
    job = {"status": {"cost": {"gpuSecondsSpot": 12.25, "gpuSecondsOnDemand": 3.0, "estimatedUSD": 0.0123}}}
    assert cost_line(job) == "12.2 GPU-seconds on spot, 3.0 on on-demand, estimated $0.0123"


def test_cost_line_without_prices_or_cost_says_so() -> None:
    assert cost_line({"status": {}}) == "0.0 GPU-seconds on spot, 0.0 on on-demand (the pool has no prices)"
