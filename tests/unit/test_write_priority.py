"""Reports (Events, status-only changes) wait behind the admission path, but never longer than their
limit; and a job whose workers are being created is not planned or written again meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from builders import tj

from portalis_operator.controller import Controller
from portalis_operator.jobs import JobPlan
from portalis_operator.settings import Settings
from portalis_operator.snapshot import JobView, PoolConfig
from portalis_operator.write_priority import AdmissionFirst

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())


def test_a_report_waits_while_admissions_are_written_and_goes_once_they_are() -> None:
    async def body() -> None:
        clock = FakeClock()
        gate = AdmissionFirst(clock.monotonic, max_defer=30)
        with gate.admitting():
            assert gate.busy
            report = asyncio.create_task(gate.report_turn(clock.t))
            await asyncio.sleep(0.05)
            assert not report.done()
        await asyncio.wait_for(report, 1)
        assert not gate.busy

    run(body)


def test_a_report_that_waited_its_limit_goes_even_under_a_burst() -> None:
    async def body() -> None:
        clock = FakeClock()
        gate = AdmissionFirst(clock.monotonic, max_defer=30)
        with gate.admitting():
            queued_at = clock.t
            clock.t += 30
            await asyncio.wait_for(gate.report_turn(queued_at), 1)

    run(body)


def test_nested_admissions_keep_reports_waiting_until_the_last_ends() -> None:
    async def body() -> None:
        clock = FakeClock()
        gate = AdmissionFirst(clock.monotonic)
        with gate.admitting():
            with gate.admitting():
                pass
            assert gate.busy
        assert not gate.busy
        await asyncio.wait_for(gate.report_turn(clock.t), 1)

    run(body)


POOL = PoolConfig.from_spec("default", None, "portalis.dev/pool")


def with_controller(body: Callable[[Controller], Awaitable[None]]) -> None:
    from kubernetes_asyncio import client

    async def main() -> None:
        api = client.ApiClient(client.Configuration())
        try:
            await body(Controller(Settings(), api))
        finally:
            await api.close()

    asyncio.run(main())


def test_workers_are_created_after_the_status_without_holding_up_the_cycle() -> None:
    async def body(controller: Controller) -> None:
        writer = controller.writer
        order: list[str] = []
        release = asyncio.Event()

        async def patch(*args: Any, **kwargs: Any) -> None:
            order.append(f"status {args[4]}")

        async def create_pod(ns: str, pod: dict[str, Any], **kwargs: Any) -> None:
            await release.wait()
            order.append(f"pod {pod['metadata']['name']}")

        async def create_any(*args: Any, **kwargs: Any) -> None:
            pass

        writer.custom.patch_namespaced_custom_object_status = patch  # type: ignore[method-assign]
        writer.core.create_namespaced_pod = create_pod  # type: ignore[method-assign]
        writer.namespaces._worker_accounts.add("team-a")
        writer.namespaces.core.create_namespaced_config_map = create_any  # type: ignore[method-assign]
        job = tj("a").obj()
        job.metadata.resource_version = "7"
        status = job.status.model_copy()
        status.phase = "Admitted"
        view, plan = JobView(job), JobPlan(status=status, create=[0], admission_wait=1.0)
        await writer.apply_all([(view, plan)], POOL)
        assert order == ["status a"]  # the cycle returns once the status is written
        assert "team-a/a" in writer.pending()
        assert writer.priority.busy  # reports wait behind the pod create
        await writer.apply_all([(view, plan)], POOL)  # planned again meanwhile: not written twice
        assert order == ["status a"]
        release.set()
        await writer.settle()
        assert order == ["status a", "pod a-w0"]
        assert writer.pending() == set()
        assert not writer.priority.busy
        assert "team-a/a" in writer.take_retries()  # planned again on what the creates left

    with_controller(body)
