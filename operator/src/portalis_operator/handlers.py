"""kopf registration: the edge where Kubernetes events enter. Handlers only wake the controller.

Every decision is made by the controller's cycle over a fresh snapshot, so handlers carry no state and
need no finalizers: worker pods are owned by their TranslationJob and garbage-collected with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import kopf
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException
from prometheus_client import start_http_server

from portalis_operator import metrics
from portalis_operator.api import GROUP, VERSION
from portalis_operator.controller import Controller
from portalis_operator.manifests import JOB_LABEL
from portalis_operator.settings import Settings

log = logging.getLogger(__name__)


async def _api_client() -> client.ApiClient:
    conf = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=conf)
    except ConfigException:
        # The client library reads KUBECONFIG once, when it is first imported; read it now instead.
        await config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=conf)
    conf.connection_pool_maxsize = 64
    return client.ApiClient(conf)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, else the kubeconfig named by KUBECONFIG (read at call time)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def startup(memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any) -> None:
    cfg = Settings()
    # Our own events say what happened to a job; kopf's per-handler chatter would drown them.
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    api = await _api_client()
    controller = Controller(cfg, api)
    memo.settings = cfg
    memo.api = api
    memo.controller = controller
    memo.stopping = False
    memo.task = asyncio.create_task(controller.run(lambda: bool(memo.stopping)), name="portalis-scheduler")
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port, registry=metrics.REGISTRY)
    controller.trigger()
    log.info("portalis operator started: pool=%s namespaces=%s", cfg.pool, cfg.namespaces or "all")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    controller: Controller | None = getattr(memo, "controller", None)
    if controller is not None:
        await controller.flush_events()
    memo.stopping = True
    task: asyncio.Task[None] | None = getattr(memo, "task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    api: client.ApiClient | None = getattr(memo, "api", None)
    if api is not None:
        await api.close()


@kopf.on.event(GROUP, VERSION, "translationjobs")
def job_changed(memo: kopf.Memo, **_: Any) -> None:
    memo.controller.trigger()


@kopf.on.event("", "v1", "pods", labels={JOB_LABEL: kopf.PRESENT})
def worker_pod_changed(memo: kopf.Memo, **_: Any) -> None:
    memo.controller.trigger()


@kopf.on.probe(id="scheduler")
def scheduler_probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness: the scheduling loop completed a cycle recently (a stuck loop fails the probe)."""
    controller: Controller | None = getattr(memo, "controller", None)
    if controller is None or controller.last_sync is None:
        return {"synced": False}
    age = time.time() - controller.last_sync
    if age > memo.settings.stale_after_seconds:
        raise kopf.PermanentError(f"scheduling loop stale: last cycle {age:.0f} s ago")
    return {"synced": True, "lastSyncAgeSeconds": round(age, 1)}
