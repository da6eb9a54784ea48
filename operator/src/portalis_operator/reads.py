"""What the scheduling loop reads each cycle: the GPUPool, the TranslationJobs, our worker pods, the GPU
holds of every other pod and the pool's nodes, as raw JSON pages reduced to what decisions need.

Lists are served from the API server's watch cache (resourceVersion=0): cheap for the server, and safe
because every write the loop makes is guarded (resourceVersion preconditions on status, deterministic pod
names, UID preconditions on deletes), so a decision on slightly stale data is refused, never applied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from portalis_operator.api import GROUP, VERSION, GPUPool
from portalis_operator.manifests import JOB_LABEL
from portalis_operator.settings import Settings
from portalis_operator.snapshot import OwnerKey, PodRef, PodView, gpu_hold, worker_pod

log = logging.getLogger(__name__)

JOBS = "translationjobs"
POOLS = "gpupools"
PAGE = 500


class Reader:
    def __init__(self, settings: Settings, api: client.ApiClient) -> None:
        self.settings = settings
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    async def nodes(self, label_selector: str) -> list[dict[str, Any]]:
        return [
            n async for page in self._pages(self.core.list_node, label_selector=label_selector) for n in page
        ]

    async def gpupool(self) -> GPUPool | None:
        try:
            raw = await self.custom.get_cluster_custom_object(GROUP, VERSION, POOLS, self.settings.pool)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return GPUPool.model_validate(raw)
        except ValidationError as exc:
            log.error("GPUPool %s unreadable, using defaults: %s", self.settings.pool, exc)
            return None

    async def jobs(self) -> list[dict[str, Any]]:
        if not self.settings.namespaces:
            return [j async for page in self._custom_pages() for j in page]
        return [j for ns in self.settings.namespaces async for page in self._custom_pages(ns) for j in page]

    async def worker_pods(self) -> list[tuple[OwnerKey, PodView]]:
        """Our worker pods, reduced page by page to what decisions need."""
        out: list[tuple[OwnerKey, PodView]] = []
        calls = (
            [(self.core.list_pod_for_all_namespaces, {})]
            if not self.settings.namespaces
            else [(self.core.list_namespaced_pod, {"namespace": ns}) for ns in self.settings.namespaces]
        )
        for fn, kw in calls:
            async for page in self._pages(fn, label_selector=JOB_LABEL, **kw):
                out += [w for w in map(worker_pod, page) if w is not None]
        return out

    async def gpu_holds(self) -> list[tuple[PodRef, str, int]]:
        """GPUs held by every bound, unfinished pod (any namespace, ours too): snapshot.other_gpus then
        leaves out the jobs' matched workers. A label is no proof of ownership: a pod that carries the
        job label but belongs to no job still holds its GPUs."""
        holds: list[tuple[PodRef, str, int]] = []
        async for page in self._pages(
            self.core.list_pod_for_all_namespaces,
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        ):
            holds += filter(None, map(gpu_hold, page))
        return holds

    async def _custom_pages(self, namespace: str | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        kw: dict[str, Any] = {"limit": PAGE, "resource_version": "0"}
        while True:
            if namespace is None:
                raw = await self.custom.list_cluster_custom_object(GROUP, VERSION, JOBS, **kw)
            else:
                raw = await self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, JOBS, **kw)
            yield list(raw.get("items") or [])
            token = (raw.get("metadata") or {}).get("continue")
            if not token:
                return
            kw = {"limit": PAGE, "_continue": token}

    @staticmethod
    async def _pages(fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> AsyncIterator[list[dict[str, Any]]]:
        """A LIST in pages of raw JSON (the client's models cost more to build than to decide on).

        The first page is served from the API server's watch cache (resourceVersion=0): cheap for the
        server, and safe here because every write this loop makes is guarded (resourceVersion
        preconditions on status, deterministic pod names), so a decision on slightly stale data is
        refused instead of applied."""
        kw: dict[str, Any] = {"limit": PAGE, "resource_version": "0", **kwargs}
        while True:
            resp = await fn(_preload_content=False, **kw)
            try:
                data = json.loads(await resp.read())
            finally:
                resp.release()
            yield list(data.get("items") or [])
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return
            kw = {"limit": PAGE, "_continue": token, **kwargs}
