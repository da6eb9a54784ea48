"""PoolReconciler with the fake NodeProvider injected and the clock passed in: what it asks the provider
for, what it writes into GPUPool status, and what it does when the provider fails or the fence closes.
The two API writes it makes (GPUPool status, Events) are recorded instead of sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes_asyncio import client

from portalis_operator import api
from portalis_operator.admission import Waiting, WaitReason
from portalis_operator.leadership import NotLeading
from portalis_operator.packing import Node
from portalis_operator.pool import PoolReconciler, PoolSnapshot
from portalis_operator.providers import ProviderUnavailable
from portalis_operator.providers.fake import FakeProvider
from portalis_operator.snapshot import NodeView
from portalis_operator.workload import CapacityType, JobRequest, Priority

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND


def gpupool(name: str = "p") -> api.GPUPool:
    return api.GPUPool.model_validate(
        {
            "metadata": {"name": name, "generation": 1, "resourceVersion": "5", "uid": "u"},
            "spec": {"provider": {"type": "kwok"}},
        }
    )


def queued(name: str, gpus: int = 8, waited: timedelta = timedelta(minutes=5)) -> Waiting:
    job = JobRequest(f"ns/{name}", Priority.NORMAL, NOW - waited, 1, gpus)
    return Waiting(job, WaitReason.INSUFFICIENT_CAPACITY, 1, Priority.NORMAL)


class Recorded:
    def __init__(self) -> None:
        self.status: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []


def run(
    fake: FakeProvider, body: Callable[[PoolReconciler, Recorded], Awaitable[None]], fence: Any = None
) -> Recorded:
    rec = Recorded()

    async def main() -> None:
        api_client = client.ApiClient(client.Configuration())
        try:
            r = PoolReconciler(
                api_client, "p", clock=lambda: NOW, provider_for=lambda _: fake, fence=fence or (lambda: None)
            )

            async def patch_status(*args: Any, **kwargs: Any) -> None:
                rec.status.append(args[4])

            async def event(ns: str, body: dict[str, Any]) -> None:
                rec.events.append(body)

            r.custom.patch_cluster_custom_object_status = patch_status  # type: ignore[method-assign]
            r.core.create_namespaced_event = event  # type: ignore[method-assign]
            await body(r, rec)
        finally:
            await api_client.close()

    asyncio.run(main())
    return rec


def one_busy_node(fake: FakeProvider) -> dict[str, NodeView]:
    fake.add("p", OD, "dgx-p-od-0")
    return {"dgx-p-od-0": NodeView(Node("dgx-p-od-0", OD, 8))}


def test_queued_demand_scales_the_pool_up_through_the_provider() -> None:
    fake = FakeProvider()
    nodes = one_busy_node(fake)

    async def body(r: PoolReconciler, rec: Recorded) -> None:
        snap = PoolSnapshot(nodes=nodes, running=[], waiting=[queued("a"), queued("b")], busy={"dgx-p-od-0"})
        decision = await r.reconcile(gpupool(), snap)
        assert decision is not None
        assert decision.changed

    rec = run(fake, body)
    assert [c[0] for c in fake.calls] == ["scale"]
    assert sum((await_targets(fake)).values()) > 1  # nodes added
    (status,) = rec.status
    assert status["status"]["lastScaleReason"]
    assert status["metadata"]["resourceVersion"] == "5"  # written against what was read
    assert [e["reason"] for e in rec.events] == ["ScaledUp"]


def await_targets(fake: FakeProvider) -> dict[CapacityType, int]:
    return asyncio.run(fake.targets(gpupool()))


def test_a_failing_provider_makes_the_pool_not_ready_and_scales_nothing() -> None:
    fake = FakeProvider(fail_with=ProviderUnavailable("cloud API down"))
    nodes = one_busy_node(fake)

    async def body(r: PoolReconciler, rec: Recorded) -> None:
        snap = PoolSnapshot(nodes=nodes, running=[], waiting=[queued("a")], busy={"dgx-p-od-0"})
        assert await r.reconcile(gpupool(), snap) is None

    rec = run(fake, body)
    assert fake.calls == []
    (status,) = rec.status
    (ready,) = [c for c in status["status"]["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ProviderUnavailable")


def test_no_scaling_and_no_status_once_the_fence_is_closed() -> None:
    fake = FakeProvider()
    nodes = one_busy_node(fake)

    def closed() -> None:
        raise NotLeading("lost the Lease")

    async def body(r: PoolReconciler, rec: Recorded) -> None:
        snap = PoolSnapshot(nodes=nodes, running=[], waiting=[queued("a")], busy={"dgx-p-od-0"})
        with pytest.raises(NotLeading):
            await r.reconcile(gpupool(), snap)

    rec = run(fake, body, fence=closed)
    assert fake.calls == []
    assert rec.status == []


def test_the_fake_provider_scales_like_kwok() -> None:
    fake = FakeProvider()
    pool = gpupool()

    async def scenario() -> None:
        await fake.scale(pool, SPOT, 2)
        await fake.scale(pool, SPOT, 2)  # idempotent
        await fake.scale(pool, OD, 1)
        assert [n.name for n in await fake.list_nodes(pool)] == ["dgx-p-od-0", "dgx-p-spot-0", "dgx-p-spot-1"]
        await fake.delete_node(pool, "dgx-p-spot-0")
        await fake.delete_node(pool, "dgx-p-spot-0")  # gone is success
        assert await fake.targets(pool) == {SPOT: 1, OD: 1}

    asyncio.run(scenario())
