"""Per-namespace GPU quotas: how many of the pool's GPUs one namespace's jobs may hold at once.

Tenants are namespaces; without a quota one team's job (or many small ones) could take the pool up to
`nodes.max` and leave every other team queued. The platform team sets the limits in the GPUPool
(`spec.quotas`: a default for every namespace and one per named namespace), because the pool is what
they share. The rule: a queued job is admitted only if the GPUs its namespace already holds (admitted
jobs, those being evicted included: they hold their GPUs until their pods are gone) plus the job's own
stay within the namespace's limit. A job over its quota waits with its own reason: it reserves no
capacity, blocks no one behind it, never preempts and is not autoscaling demand (buying nodes for it
would not let it run).

Enforced by the operator, not by the API server: the decision depends on which jobs hold GPUs now, which
admission webhooks and policies do not see. Pure: no API, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portalis_operator.workload import JobRequest, RunningJob


def namespace_of(key: str) -> str:
    """The namespace part of a job key (`<namespace>/<name>`)."""
    return key.partition("/")[0]


@dataclass(frozen=True)
class NamespaceQuotas:
    """GPU limits by namespace; `default` for namespaces not named (None: no limit)."""

    default: int | None = None
    limits: Mapping[str, int] = field(default_factory=dict)

    def limit_of(self, namespace: str) -> int | None:
        return self.limits.get(namespace, self.default)

    @property
    def unlimited(self) -> bool:
        return self.default is None and not self.limits


NO_QUOTAS = NamespaceQuotas()


def gpus_by_namespace(running: Iterable[RunningJob]) -> dict[str, int]:
    """GPUs held per namespace by admitted jobs (their placements, whether or not the pods are bound)."""
    held: dict[str, int] = {}
    for r in running:
        ns = namespace_of(r.job.key)
        held[ns] = held.get(ns, 0) + sum(p.gpus for p in r.placements)
    return held


def over_quota(job: JobRequest, held: Mapping[str, int], quotas: NamespaceQuotas) -> bool:
    """True when admitting `job` would take its namespace past its limit."""
    limit = quotas.limit_of(namespace_of(job.key))
    return limit is not None and held.get(namespace_of(job.key), 0) + job.gpus > limit


def quota_message(job: JobRequest, quotas: NamespaceQuotas) -> str:
    """Why the job waits; stable while the limit is (so it is posted as an Event once, not per cycle)."""
    ns = namespace_of(job.key)
    limit = quotas.limit_of(ns)
    if limit is not None and job.gpus > limit:
        return (
            f"the job needs {job.gpus} GPUs, more than namespace {ns} may hold ({limit}, GPUPool "
            "spec.quotas): it cannot run until the quota is raised or the job made smaller"
        )
    return (
        f"namespace {ns} may hold {limit} GPUs (GPUPool spec.quotas) and its running jobs hold too many "
        f"for this job's {job.gpus}: waiting until they finish"
    )
