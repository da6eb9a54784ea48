"""A ConfigMap this operator created for one job is not created again for another while the first job
exists (the API server could only answer 409); once that job is gone, it is."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from builders import tj
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator.made_config_maps import MadeConfigMaps
from portalis_operator.settings import Settings
from portalis_operator.worker_namespace import WorkerNamespaces

pytestmark = pytest.mark.unit


def test_a_config_map_made_for_a_live_job_is_owned_elsewhere_for_every_other_job() -> None:
    live = {("ns", "a")}
    made = MadeConfigMaps()
    made.record("ns", "out", "a", lambda ns, uid: (ns, uid) in live)
    assert made.owned_elsewhere("ns", "out", "b", lambda ns, uid: (ns, uid) in live)
    assert not made.owned_elsewhere("ns", "out", "a", lambda ns, uid: (ns, uid) in live)  # its own
    assert not made.owned_elsewhere("other", "out", "b", lambda ns, uid: (ns, uid) in live)
    assert not made.owned_elsewhere("ns", "never-made", "b", lambda ns, uid: (ns, uid) in live)
    live.clear()  # job a deleted: its ConfigMaps go with it
    assert not made.owned_elsewhere("ns", "out", "b", lambda ns, uid: (ns, uid) in live)
    assert len(made) == 0


def test_the_table_forgets_jobs_that_are_gone_as_it_grows() -> None:
    live: set[str] = set()
    made = MadeConfigMaps()
    for i in range(5000):
        uid = f"job-{i}"
        live.clear()
        live.add(uid)  # only the newest job exists
        made.record("ns", f"cm-{i}", uid, lambda _ns, u: u in live)
    assert len(made) < 2048


@contextlib.asynccontextmanager
async def writing() -> AsyncIterator[None]:
    yield


def test_a_second_job_naming_the_first_ones_output_sends_no_create_for_it() -> None:
    async def main() -> None:
        api = client.ApiClient(client.Configuration())  # reaches no server: every call is replaced
        live: set[str] = set()
        try:
            spaces = WorkerNamespaces(Settings(), api, writing, lambda _ns, uid: uid in live)
            existing: set[str] = set()
            sent: list[str] = []

            async def create(ns: str, body: dict[str, Any], **kwargs: Any) -> None:
                name = body["metadata"]["name"]
                sent.append(name)
                if name in existing:
                    raise ApiException(status=409)
                existing.add(name)

            spaces.core.create_namespaced_config_map = create  # type: ignore[method-assign]
            first = tj("a").spec(output={"configMap": {"name": "shared"}}).obj()
            second = tj("b").spec(output={"configMap": {"name": "shared"}}).obj()
            first.metadata.uid, second.metadata.uid = "uid-a", "uid-b"
            live.update({"uid-a", "uid-b"})
            assert await spaces.ensure_output_config_maps("team-a", first)
            assert sorted(sent) == ["a-w0-ledger", "shared"]
            sent.clear()
            assert await spaces.ensure_output_config_maps("team-a", second)
            assert sent == ["b-w0-ledger"]  # "shared" is the first job's: a create could only get 409
            sent.clear()
            live.discard("uid-a")  # the first job is gone, and "shared" with it
            existing.discard("shared")
            assert await spaces.ensure_output_config_maps("team-a", second)
            assert sorted(sent) == ["b-w0-ledger", "shared"]
        finally:
            await api.close()

    asyncio.run(main())
