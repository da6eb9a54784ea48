"""Every pod delete the operator sends names the pod's UID (issue 13, item 5).

A delete by name alone hits whatever pod holds that name now: a pod recreated since the snapshot, or
(with the old owner matching) a pod of another namespace's job. The UID precondition makes the API
server refuse the delete (409) unless it is the very pod the plan was made for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator.controller import Controller
from portalis_operator.jobs import PodDelete
from portalis_operator.settings import Settings

pytestmark = pytest.mark.unit


class RecordingCore:
    def __init__(self, status: int | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.status = status

    async def delete_namespaced_pod(self, name: str, namespace: str, **kw: Any) -> None:
        self.calls.append((name, namespace, kw))
        if self.status is not None:
            raise ApiException(status=self.status, reason="Conflict")


def deleted(core: RecordingCore, *deletes: PodDelete) -> list[tuple[str, str, dict[str, Any]]]:
    async def run() -> None:
        api = client.ApiClient(client.Configuration())
        try:
            controller = Controller(Settings(), api)
            controller.writer.core = core  # type: ignore[assignment]
            for d in deletes:
                await controller.writer._delete_pod("team-a", d)
        finally:
            await api.close()

    asyncio.run(run())
    return core.calls


def body(kw: dict[str, Any]) -> dict[str, Any]:
    b = kw["body"]
    return b if isinstance(b, dict) else client.ApiClient().sanitize_for_serialization(b)


def test_a_delete_carries_the_uid_precondition_and_the_grace_period() -> None:
    calls = deleted(
        RecordingCore(), PodDelete("victim-w0", "uid-0", 25), PodDelete("victim-w1", "uid-1", None)
    )
    assert [(n, ns) for n, ns, _ in calls] == [("victim-w0", "team-a"), ("victim-w1", "team-a")]
    first, second = body(calls[0][2]), body(calls[1][2])
    assert first["preconditions"] == {"uid": "uid-0"}
    assert first["gracePeriodSeconds"] == 25
    assert second["preconditions"] == {"uid": "uid-1"}
    assert "gracePeriodSeconds" not in second  # the pod's own grace period


def test_a_pod_without_a_known_uid_is_not_deleted() -> None:
    assert deleted(RecordingCore(), PodDelete("victim-w0", None, 0)) == []


def test_a_refused_precondition_is_not_an_error() -> None:
    # 409: the pod was replaced since the snapshot; the next cycle decides on the new one.
    calls = deleted(RecordingCore(status=409), PodDelete("victim-w0", "old-uid", 0))
    assert len(calls) == 1
