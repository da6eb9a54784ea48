"""The glue between a cycle's plans and the API server (writes.py), without a cluster: what is counted when a
write is refused, and that nothing is written once the fence is closed. The API calls are replaced by
recorders on the controller's own client objects; the clock is injected."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from builders import tj
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import metrics
from portalis_operator.controller import Controller
from portalis_operator.jobs import JobPlan
from portalis_operator.leadership import Fence, NotLeading
from portalis_operator.settings import Settings
from portalis_operator.snapshot import JobView, PoolConfig

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return NOW


def with_controller(body: Callable[[Controller], Awaitable[None]]) -> None:
    """Run `body` on a controller whose client reaches no server (every call used is replaced)."""

    async def main() -> None:
        api = client.ApiClient(client.Configuration())
        try:
            await body(Controller(Settings(), api, clock=FakeClock()))
        finally:
            await api.close()

    asyncio.run(main())


def admitted_plan() -> tuple[JobView, JobPlan]:
    job = tj("a").obj()
    job.metadata.resource_version = "7"
    status = job.status.model_copy()
    status.phase = "Admitted"
    return JobView(job), JobPlan(status=status, admission_wait=3.0)


def admissions() -> float:
    return float(metrics.ADMISSIONS.labels("normal")._value.get())


def refusing(status: int, calls: list[Any]) -> Any:
    async def patch(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise ApiException(status=status)

    return patch


def accepting(calls: list[Any]) -> Any:
    async def patch(*args: Any, **kwargs: Any) -> None:
        calls.append(args)

    return patch


POOL = PoolConfig.from_spec("default", None, "portalis.dev/pool")


def test_a_conflicted_status_write_counts_nothing_and_the_retry_counts_once() -> None:
    async def body(controller: Controller) -> None:
        view, plan = admitted_plan()
        before = admissions()
        calls: list[Any] = []
        controller.writer.custom.patch_namespaced_custom_object_status = refusing(409, calls)  # type: ignore[method-assign]
        await controller.writer._apply(view, plan, POOL)
        assert len(calls) == 1
        assert admissions() == before  # refused: the next cycle plans it again from fresh state
        controller.writer.custom.patch_namespaced_custom_object_status = accepting(calls)  # type: ignore[method-assign]
        await controller.writer._apply(view, plan, POOL)
        assert admissions() == before + 1

    with_controller(body)


def test_a_closed_fence_writes_nothing() -> None:
    async def body(controller: Controller) -> None:
        controller.writer.fence = Fence.elected(
            controller.clock
        )  # an elected replica that does not hold the Lease
        view, plan = admitted_plan()
        calls: list[Any] = []
        controller.writer.custom.patch_namespaced_custom_object_status = accepting(calls)  # type: ignore[method-assign]
        with pytest.raises(NotLeading):
            await controller.writer._apply(view, plan, POOL)
        assert calls == []
        # writes whose failure is only logged (events, deleting a job) are dropped, never half made
        made: list[Any] = []

        async def event() -> None:
            made.append("event")

        assert await controller.writer._call("events", event()) is None
        assert made == []

    with_controller(body)


def test_the_fence_closes_by_the_injected_clock() -> None:
    async def body(controller: Controller) -> None:
        clock = controller.clock
        assert isinstance(clock, FakeClock)
        controller.writer.fence = Fence.elected(clock)
        controller.writer.fence.extend_to(clock.t + 10)
        view, plan = admitted_plan()
        calls: list[Any] = []
        controller.writer.custom.patch_namespaced_custom_object_status = accepting(calls)  # type: ignore[method-assign]
        await controller.writer._apply(view, plan, POOL)
        assert len(calls) == 1
        clock.t += 10  # the renew deadline passes without a renewal
        with pytest.raises(NotLeading):
            await controller.writer._apply(view, plan, POOL)
        assert len(calls) == 1

    with_controller(body)


def test_pod_create_refusals_back_off_on_the_injected_clock() -> None:
    async def body(controller: Controller) -> None:
        clock = controller.clock
        assert isinstance(clock, FakeClock)
        calls: list[Any] = []

        async def create(ns: str, body: Any, **_: Any) -> None:
            calls.append(body)
            raise ApiException(status=403, reason="Forbidden")

        controller.writer.core.create_namespaced_pod = create  # type: ignore[method-assign]
        body = {"metadata": {"name": "a-w0"}}
        await controller.writer._create_pod("team-a", body)
        assert len(calls) == 1
        assert controller.writer._backing_off("team-a", "a-w0")
        clock.t += 3600
        assert not controller.writer._backing_off("team-a", "a-w0")

    with_controller(body)


def running_plan() -> tuple[JobView, JobPlan]:
    job = tj("b").obj()
    job.metadata.resource_version = "9"
    status = job.status.model_copy()
    status.phase = "Running"
    return JobView(job), JobPlan(status=status)


def test_status_only_changes_wait_behind_admissions_and_are_planned_again_once_written() -> None:
    async def body(controller: Controller) -> None:
        writer = controller.writer
        calls: list[Any] = []
        writer.custom.patch_namespaced_custom_object_status = accepting(calls)  # type: ignore[method-assign]
        admit, running = admitted_plan(), running_plan()
        await writer.apply_all([admit, running], POOL)
        assert [c[4] for c in calls] == ["a"]  # the admission only; Running is queued
        assert writer.pending() == {"team-a/b"}
        await writer.apply_all([running], POOL)  # planned again meanwhile: not queued twice
        assert writer._deferred.qsize() == 1
        task = asyncio.create_task(writer.write_deferred())
        await writer._deferred.join()
        task.cancel()
        assert [c[4] for c in calls] == ["a", "b"]
        assert writer.pending() == set()
        assert "team-a/b" in writer.take_retries()  # planned again on what the write left

    with_controller(body)


class Answer:
    """What the client returns with `_preload_content=False`: the status is not checked for us."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.reason, self._body = status, "Forbidden", body

    async def read(self) -> bytes:
        return json.dumps(self._body).encode()

    def release(self) -> None:
        pass


def test_a_refusal_answered_without_preloading_is_still_a_refusal() -> None:
    """Writes read the API server's answer raw; an error status must not pass for the created object."""

    async def body(controller: Controller) -> None:
        status = {"kind": "Status", "code": 403, "message": 'pods "a-w0" is forbidden: exceeded quota'}

        async def create(ns: str, body: Any, **_: Any) -> Answer:
            return Answer(403, status)

        controller.writer.core.create_namespaced_pod = create  # type: ignore[method-assign]
        await controller.writer._create_pod("team-a", {"metadata": {"name": "a-w0"}})
        assert controller.writer._backing_off("team-a", "a-w0")
        record = controller.writer._refusals[("team-a", "a-w0")]
        assert "exceeded quota" in record.message

    with_controller(body)
