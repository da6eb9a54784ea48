"""What the watch-fed cache counts as a change that re-plans every job: the GPUPool's spec, a node's
decision fields; not the pool's status (the autoscaler writes it as jobs come and go) nor a Ready
node's heartbeat."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes_asyncio import client

from portalis_operator.cache import ClusterCache, compact_node
from portalis_operator.settings import Settings

pytestmark = pytest.mark.unit


def with_cache(body: Callable[[ClusterCache, list[str]], None]) -> None:
    async def main() -> None:
        api = client.ApiClient(client.Configuration())  # reaches no server: nothing is sent
        woken: list[str] = []
        try:
            body(ClusterCache(Settings(), api, lambda: woken.append("wake")), woken)
        finally:
            await api.close()

    asyncio.run(main())


def pool(rv: str, max_nodes: int, desired: int) -> dict[str, Any]:
    return {
        "apiVersion": "portalis.dev/v1alpha1",
        "kind": "GPUPool",
        "metadata": {"name": "default", "resourceVersion": rv},
        "spec": {"provider": {"type": "kwok"}, "nodes": {"min": 1, "max": max_nodes}},
        "status": {"desiredNodes": desired},
    }


def test_only_the_pool_spec_re_plans_every_job() -> None:
    def body(cache: ClusterCache, woken: list[str]) -> None:
        cache.take_dirty()  # the first cycle's "everything"
        cache.pool.apply({"type": "ADDED", "object": pool("1", 10, 1)})
        assert cache.take_dirty().everything  # a new pool
        cache.pool.apply({"type": "MODIFIED", "object": pool("2", 10, 3)})  # the autoscaler's status
        assert not cache.take_dirty().everything
        assert woken  # the loop still wakes
        cache.pool.apply({"type": "MODIFIED", "object": pool("3", 8, 3)})
        assert cache.take_dirty().everything

    with_cache(body)


def node(status: str, since: str, beat: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "n1", "labels": {"portalis.dev/pool": "default"}},
        "spec": {},
        "status": {
            "allocatable": {"nvidia.com/gpu": "8"},
            "conditions": [
                {"type": "Ready", "status": status, "lastTransitionTime": since, "lastHeartbeatTime": beat}
            ],
        },
    }


def test_a_ready_nodes_heartbeat_is_no_change_but_a_not_ready_one_keeps_its_time() -> None:
    t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z"
    assert compact_node(node("True", t1, t1)) == compact_node(node("True", t2, t2))
    assert compact_node(node("False", t1, t1)) != compact_node(node("False", t2, t2))
    assert compact_node(node("True", t1, t1)) != compact_node(node("False", t1, t1))
    not_ready = compact_node(node("False", t1, t2))["status"]["conditions"][0]
    assert not_ready["lastTransitionTime"] == t1  # recovery's grace period counts from it
