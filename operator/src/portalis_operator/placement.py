"""Where a job's workers may run: resolve the effective spot mode and the node order it implies."""

from __future__ import annotations

from portalis_operator.workload import CapacityType, Priority, SpotMode

SPOT_TAINT_KEY = "portalis.dev/spot"
SPOT_TAINT_VALUE = "true"


def effective_spot_mode(
    requested: SpotMode | str | None,
    priority: Priority,
    reclaims: int = 0,
    on_demand_after_reclaims: int = 3,
) -> SpotMode:
    """The mode the scheduler uses for a job.

    - unset: `never` for critical jobs (a reclaim must not delay them), `preferred` otherwise. A CRD
      default cannot depend on another field, so `capacity.spot` has no default and is resolved here.
    - `preferred` becomes `never` once the job has been reclaimed `on_demand_after_reclaims` times:
      a job that keeps losing spot nodes finishes on on-demand ones.
    - `required` never falls back: the user chose cost over time; `recovery.maxReclaims` bounds it.
    - a critical job is never placed on spot only (the CRD rejects that spec; this is the second line).
    """
    mode = SpotMode(requested) if requested is not None else None
    if mode is None:
        mode = SpotMode.NEVER if priority >= Priority.CRITICAL else SpotMode.PREFERRED
    if mode is SpotMode.REQUIRED and priority >= Priority.CRITICAL:
        mode = SpotMode.PREFERRED
    if mode is SpotMode.PREFERRED and reclaims >= on_demand_after_reclaims:
        mode = SpotMode.NEVER
    return mode


def eligible_capacity_types(mode: SpotMode) -> tuple[CapacityType, ...]:
    """Capacity types a job may use, most preferred first."""
    if mode is SpotMode.NEVER:
        return (CapacityType.ON_DEMAND,)
    if mode is SpotMode.REQUIRED:
        return (CapacityType.SPOT,)
    return (CapacityType.SPOT, CapacityType.ON_DEMAND)


def capacity_type_from_label(value: str | None) -> CapacityType | None:
    """Parse the capacity-type label value; None for nodes without it (they are not pool nodes)."""
    try:
        return CapacityType(value) if value is not None else None
    except ValueError:
        return None
