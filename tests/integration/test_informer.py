"""The operator's informer (informer.py) on the real API server: it follows creates, changes and deletes
through the watch, keeps only what its reduction keeps, and a relist (what it does after 410 Gone)
reports what vanished meanwhile as deleted and resumes the watch from the list's version."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from harness import pod, wait_for
from portalis_dev.cluster import LocalCluster
from portalis_operator.informer import Informer, Key

pytestmark = pytest.mark.integration


def label_of(raw: Mapping[str, Any]) -> str | None:
    """Keep only pods labelled `keep`, as the value of that label."""
    value = ((raw.get("metadata") or {}).get("labels") or {}).get("keep")
    return str(value) if value is not None else None


def labelled(name: str, keep: str | None) -> dict[str, Any]:
    body = pod(name)
    if keep is not None:
        body["metadata"]["labels"] = {"keep": keep}
    return body


async def in_thread(predicate: Any, what: str) -> Any:
    return await asyncio.to_thread(wait_for, predicate, 30, 0.05, what)


def test_the_informer_follows_the_watch_and_relists_after_410(
    cluster: LocalCluster, core: Any, namespace: str
) -> None:
    async def scenario() -> None:
        api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
        changes: list[tuple[Key, str | None, str | None]] = []
        informer = Informer[str](
            "test pods",
            client.CoreV1Api(api).list_namespaced_pod,
            label_of,
            lambda key, old, new: changes.append((key, old, new)),
            namespace=namespace,
        )
        await asyncio.to_thread(core.create_namespaced_pod, namespace, labelled("before", "a"))
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.synced.wait(), 30)
            assert informer.items == {(namespace, "before"): "a"}

            for name, keep in (("kept", "b"), ("ignored", None)):
                await asyncio.to_thread(core.create_namespaced_pod, namespace, labelled(name, keep))
            await in_thread(lambda: (namespace, "kept") in informer.items, "the new pod in the cache")
            patch = {"metadata": {"labels": {"keep": "c"}}}
            await asyncio.to_thread(core.patch_namespaced_pod, "kept", namespace, patch)
            await in_thread(lambda: informer.items.get((namespace, "kept")) == "c", "the label change")
            await asyncio.to_thread(core.delete_namespaced_pod, "before", namespace, grace_period_seconds=0)
            await in_thread(lambda: (namespace, "before") not in informer.items, "the delete")
            assert (namespace, "ignored") not in informer.items  # reduced to None: never kept
            assert ((namespace, "kept"), "b", "c") in changes
            assert ((namespace, "before"), "a", None) in changes
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        # As after a 410 (the version to resume from was compacted away): an object the cache holds was
        # deleted while nobody watched. (This API server answers an old version with an empty stream
        # rather than 410, so the relist is called here as `run` calls it on Expired.)
        informer.items[(namespace, "ghost")] = "g"
        changes.clear()
        await informer.relist()
        assert informer.relists == 1
        assert informer.items == {(namespace, "kept"): "c"}
        assert changes == [((namespace, "ghost"), "g", None)]
        task = asyncio.create_task(informer.run())  # resumes from the relist's version
        try:
            await asyncio.to_thread(core.create_namespaced_pod, namespace, labelled("after", "d"))
            await in_thread(lambda: (namespace, "after") in informer.items, "watching again after the relist")
            assert informer.relists == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()

    asyncio.run(scenario())
