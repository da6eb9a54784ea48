from __future__ import annotations

import pytest

from portalis_operator.placement import capacity_type_from_label, effective_spot_mode, eligible_capacity_types
from portalis_operator.workload import CapacityType, Priority, SpotMode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("requested", "priority", "reclaims", "expected"),
    [
        (None, Priority.CRITICAL, 0, SpotMode.NEVER),
        (None, Priority.HIGH, 0, SpotMode.PREFERRED),
        (None, Priority.BACKGROUND, 0, SpotMode.PREFERRED),
        (None, Priority.NORMAL, 3, SpotMode.NEVER),  # fell back after N reclaims
        ("preferred", Priority.NORMAL, 2, SpotMode.PREFERRED),
        ("preferred", Priority.NORMAL, 3, SpotMode.NEVER),
        ("preferred", Priority.CRITICAL, 0, SpotMode.PREFERRED),  # explicit choice is kept
        ("required", Priority.LOW, 99, SpotMode.REQUIRED),  # never falls back
        ("required", Priority.CRITICAL, 0, SpotMode.PREFERRED),  # CRD forbids it; second line of defence
        ("never", Priority.LOW, 0, SpotMode.NEVER),
    ],
)
def test_effective_spot_mode(
    requested: str | None, priority: Priority, reclaims: int, expected: SpotMode
) -> None:
    assert effective_spot_mode(requested, priority, reclaims, on_demand_after_reclaims=3) is expected


def test_eligible_capacity_types() -> None:
    assert eligible_capacity_types(SpotMode.PREFERRED) == (CapacityType.SPOT, CapacityType.ON_DEMAND)
    assert eligible_capacity_types(SpotMode.REQUIRED) == (CapacityType.SPOT,)
    assert eligible_capacity_types(SpotMode.NEVER) == (CapacityType.ON_DEMAND,)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("spot", CapacityType.SPOT), ("on-demand", CapacityType.ON_DEMAND), ("SPOT", None), (None, None)],
)
def test_capacity_type_from_label(value: str | None, expected: CapacityType | None) -> None:
    assert capacity_type_from_label(value) is expected
