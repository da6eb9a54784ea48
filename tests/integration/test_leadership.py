"""Two replicas compete for the scheduling Lease on the real API server (leadership.py).

Each replica runs its elector's renewal task and a "cycle" that writes, fenced, to a ConfigMap, the way
the controller writes status and pods. The writes are recorded with the test's own clock: at most one
replica may write at any time, whatever the replicas' clocks say, and the standby takes over within the
lease once the leader is killed mid-cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from kubernetes_asyncio import client, config

from portalis_dev.cluster import LocalCluster
from portalis_operator.leadership import LeaseElector, LeaseTiming, NotLeading, SystemClock

pytestmark = pytest.mark.integration

# Short, but with room for a loaded machine: a renewal may take over a second and still keep the lease.
TIMING = LeaseTiming(duration=5.0, renew_deadline=3.0, retry_period=0.25)


class SkewedClock(SystemClock):
    """A replica whose wall clock is off by `skew` (its monotonic clock has another origin too)."""

    def __init__(self, skew: timedelta) -> None:
        self.skew = skew

    def monotonic(self) -> float:
        return super().monotonic() + 1e6 + self.skew.total_seconds()

    def now(self) -> datetime:
        return super().now() + self.skew


@dataclass
class Writes:
    """(start, end, replica) of every write a replica made, on the test's clock."""

    log: list[tuple[float, float, str]] = field(default_factory=list)

    def overlaps(self) -> list[tuple[tuple[float, float, str], tuple[float, float, str]]]:
        ordered = sorted(self.log)
        return [(a, b) for a, b in itertools.pairwise(ordered) if a[2] != b[2] and b[0] < a[1]]

    def by(self, replica: str) -> list[tuple[float, float, str]]:
        return [w for w in self.log if w[2] == replica]


async def cycle(
    api: client.ApiClient, elector: LeaseElector, namespace: str, cm: str, writes: Writes
) -> None:
    """A replica's loop: write decisions while the fence is open, as the controller does."""
    core = client.CoreV1Api(api)
    while True:
        try:
            elector.fence.check()
            start = time.monotonic()
            await core.patch_namespaced_config_map(cm, namespace, {"data": {"writer": elector.me}})
            writes.log.append((start, time.monotonic(), elector.me))
        except NotLeading:
            pass
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def replica(
    api: client.ApiClient, elector: LeaseElector, namespace: str, cm: str, writes: Writes
) -> AsyncIterator[tuple[asyncio.Task[None], asyncio.Task[None]]]:
    renewing = asyncio.create_task(elector.run())
    writing = asyncio.create_task(cycle(api, elector, namespace, cm, writes))
    try:
        yield renewing, writing
    finally:
        for task in (renewing, writing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await elector.release()  # as the controller does on shutdown


async def leader_of(electors: list[LeaseElector], within: float) -> LeaseElector:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        leading = [e for e in electors if e.leading()]
        if leading:
            return leading[0]
        await asyncio.sleep(0.02)
    raise AssertionError("nobody took the lease")


async def setup(cluster: LocalCluster, namespace: str) -> tuple[client.ApiClient, str, str]:
    api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
    name = f"lease-{uuid.uuid4().hex[:6]}"
    await client.CoreV1Api(api).create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    return api, name, name


def test_clock_skew_larger_than_the_lease_never_gives_two_writers(
    cluster: LocalCluster, namespace: str
) -> None:
    """b's wall clock runs an hour ahead (720 leases): to b, a's renewTime always looks expired. A
    replica that compared renewTime with its own clock would take over at once and write beside a."""

    async def scenario() -> None:
        api, lease, cm = await setup(cluster, namespace)
        try:
            a = LeaseElector(api, namespace, lease, "replica-a", TIMING)
            b = LeaseElector(api, namespace, lease, "replica-b", TIMING, SkewedClock(timedelta(hours=1)))
            writes = Writes()
            async with replica(api, a, namespace, cm, writes):
                await leader_of([a], 5)
                async with replica(api, b, namespace, cm, writes):
                    both = 0
                    deadline = time.monotonic() + 3 * TIMING.duration
                    while time.monotonic() < deadline:
                        both += a.leading() and b.leading()
                        await asyncio.sleep(0.01)
                    assert both == 0
                    assert a.leading()
                    assert not b.leading(), "b took a lease that a kept renewing"
            assert writes.by("replica-a"), "the leader never wrote"
            assert not writes.by("replica-b"), "the standby wrote"
            got = await client.CoordinationV1Api(api).read_namespaced_lease(lease, namespace)
            assert got.spec.holder_identity is None  # a released it on its way out
            assert (got.spec.lease_transitions or 0) == 0
        finally:
            await api.close()

    asyncio.run(scenario())


def test_leader_killed_mid_cycle_the_standby_takes_over_within_the_lease(
    cluster: LocalCluster, namespace: str
) -> None:
    """a's renewal dies while its cycle keeps trying to write (a hung or partitioned replica): a stops
    writing by its own clock before b may start, and b leads within the lease of the kill."""

    async def scenario() -> None:
        api, lease, cm = await setup(cluster, namespace)
        try:
            a = LeaseElector(api, namespace, lease, "replica-a", TIMING, SkewedClock(timedelta(minutes=-10)))
            b = LeaseElector(api, namespace, lease, "replica-b", TIMING, SkewedClock(timedelta(minutes=10)))
            writes = Writes()
            async with replica(api, a, namespace, cm, writes) as (a_renewing, _):
                assert await leader_of([a], 5) is a
                async with replica(api, b, namespace, cm, writes):
                    await asyncio.sleep(TIMING.duration)  # both running; a leads, a's cycle writes
                    assert a.leading()
                    assert not b.leading()
                    a_renewing.cancel()  # killed: no release, no more renewals
                    killed = time.monotonic()
                    await leader_of([b], TIMING.duration + 3 * TIMING.retry_period + 1)
                    took_over = time.monotonic() - killed
                    await asyncio.sleep(0.5)  # b writes
            assert took_over <= TIMING.duration + 2 * TIMING.retry_period + 1.0, took_over
            assert writes.overlaps() == []
            # a's fence closes by its renew deadline: no write of a starts later, and every write of a
            # has ended before b's first one starts
            last_a_start = max(start for start, _, who in writes.log if who == "replica-a")
            last_a_end = max(end for _, end, who in writes.log if who == "replica-a")
            first_b = min(start for start, _, who in writes.log if who == "replica-b")
            assert last_a_start <= killed + TIMING.renew_deadline + 0.1, "a wrote after its renew deadline"
            assert last_a_end < first_b
            got = await client.CoordinationV1Api(api).read_namespaced_lease(lease, namespace)
            assert got.spec.lease_transitions == 1
        finally:
            await api.close()

    asyncio.run(scenario())
