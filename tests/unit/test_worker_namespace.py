"""A namespace's worker set-up is made once, however many of its jobs start at once; a ConfigMap output's
ConfigMaps are created side by side, and an existing one (409) is kept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from builders import tj
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator.settings import Settings
from portalis_operator.worker_namespace import WorkerNamespaces

pytestmark = pytest.mark.unit


@contextlib.asynccontextmanager
async def writing() -> AsyncIterator[None]:
    yield


def test_jobs_started_at_once_share_one_set_up_of_their_namespace() -> None:
    async def main() -> None:
        api = client.ApiClient(client.Configuration())  # reaches no server: every call is replaced
        try:
            spaces = WorkerNamespaces(Settings(), api, writing)
            calls: list[str] = []

            def recorder(kind: str) -> Any:
                async def create(*args: Any, **kwargs: Any) -> None:
                    calls.append(kind)
                    await asyncio.sleep(0.01)

                return create

            spaces.core.create_namespaced_service_account = recorder("sa")  # type: ignore[method-assign]
            spaces.rbac.create_namespaced_role = recorder("role")  # type: ignore[method-assign]
            spaces.rbac.create_namespaced_role_binding = recorder("binding")  # type: ignore[method-assign]
            spaces.networking.create_namespaced_network_policy = recorder("np")  # type: ignore[method-assign]
            await asyncio.gather(*(spaces.ensure_worker_account("team-a") for _ in range(20)))
            once = sorted(calls)
            assert once.count("sa") == 1
            assert once.count("role") == 2
            await spaces.ensure_worker_account("team-a")  # made: nothing more
            assert sorted(calls) == once
        finally:
            await api.close()

    asyncio.run(main())


def test_output_config_maps_are_created_side_by_side_and_an_existing_one_is_kept() -> None:
    async def main() -> None:
        api = client.ApiClient(client.Configuration())
        try:
            spaces = WorkerNamespaces(Settings(), api, writing)
            in_flight, peak, names = 0, 0, []

            async def create(ns: str, body: dict[str, Any], **kwargs: Any) -> None:
                nonlocal in_flight, peak
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.01)
                in_flight -= 1
                names.append(body["metadata"]["name"])
                if body["metadata"]["name"] == "a-out":
                    raise ApiException(status=409)

            spaces.core.create_namespaced_config_map = create  # type: ignore[method-assign]
            job = tj("a").spec(output={"configMap": {"name": "a-out"}}).parallelism(2).obj()
            assert await spaces.ensure_output_config_maps("team-a", job)
            assert "a-out" in names  # refused with 409: kept, not an error
            assert len(names) == 3  # two shards' ledgers and the output
            assert peak == len(names)
        finally:
            await api.close()

    asyncio.run(main())
