"""kopf registration: log-in, start-up and clean-up of the controller. No resource handlers: the
controller's own informers (cache.py) watch what the loop reads, so kopf watches nothing (one watch per
kind, not two), and every decision is made by the controller's cycle. Worker pods are owned by their
TranslationJob and garbage-collected with it, so nothing needs a finalizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import kopf
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException
from prometheus_client import start_http_server

from portalis_operator import metrics
from portalis_operator.controller import Controller
from portalis_operator.health import HealthServer
from portalis_operator.settings import Settings

log = logging.getLogger(__name__)

# kopf ranks the credentials of every login handler; its own service-account login uses this priority.
PRIORITY_OF_SERVICE_ACCOUNT = 20


STANDARD_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_DIR_ENV = "PORTALIS_SERVICE_ACCOUNT_DIR"


def _service_account_dir() -> Path | None:
    """Where the pod's service-account credentials are: the directory named by
    PORTALIS_SERVICE_ACCOUNT_DIR (the local node agent writes them there, having no mount namespace),
    else the standard mount; None when neither holds a token or the API server's address is unknown."""
    if not (os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT")):
        return None
    candidates = [os.environ.get(SERVICE_ACCOUNT_DIR_ENV), STANDARD_SERVICE_ACCOUNT_DIR]
    for candidate in filter(None, candidates):
        directory = Path(candidate)
        if (directory / "token").is_file():
            return directory
    return None


def _in_cluster_server() -> str:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ["KUBERNETES_SERVICE_PORT"]
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    return f"https://{host}:{port}"


async def _api_client() -> client.ApiClient:
    """In-cluster credentials (PORTALIS_SERVICE_ACCOUNT_DIR or the standard mount), else the kubeconfig
    named by KUBECONFIG at call time."""
    conf = client.Configuration()
    directory = _service_account_dir()
    try:
        if directory is None:
            raise ConfigException("no service-account credentials")
        # The loader re-reads the token file before it expires, so a rotated token is picked up.
        config.load_incluster_config(
            client_configuration=conf,
            token_filename=str(directory / "token"),
            cert_filename=str(directory / "ca.crt"),
        )
    except ConfigException:
        # The client library reads KUBECONFIG once, when it is first imported; read it now instead.
        await config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=conf)
    conf.connection_pool_maxsize = 64
    return client.ApiClient(conf)


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first (PORTALIS_SERVICE_ACCOUNT_DIR, else the standard mount), else the
    kubeconfig named by KUBECONFIG (read at call time).

    kopf's own `login_with_service_account` only knows the standard mount and `kubernetes.default.svc`;
    under the local node agent neither exists, so the connection is built here from the same files.
    kopf calls this again when the API server rejects the token, so a rotated token is read then.
    """
    directory = _service_account_dir()
    if directory is not None:
        token = (directory / "token").read_text().strip()
        ca = directory / "ca.crt"
        ns_file = directory / "namespace"
        namespace = ns_file.read_text().strip() if ns_file.is_file() else ""
        return kopf.ConnectionInfo(
            server=_in_cluster_server(),
            ca_path=str(ca) if ca.is_file() else None,
            token=token or None,
            default_namespace=namespace or None,
            trust_env=settings.networking.trust_env,
            priority=PRIORITY_OF_SERVICE_ACCOUNT,
        )
    return kopf.login_with_kubeconfig(settings=settings, **kwargs)


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
    task = asyncio.create_task(controller.run(lambda: bool(memo.stopping)), name="portalis-scheduler")
    memo.task = task
    memo.health = None
    if cfg.health_port:
        memo.health = HealthServer(
            cfg.health_port, lambda: controller.health_state(not task.done()), cfg.stale_after_seconds
        )
        await memo.health.start()
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port, registry=metrics.REGISTRY)
    controller.trigger()
    log.info("portalis operator started: pool=%s namespaces=%s", cfg.pool, cfg.namespaces or "all")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    controller: Controller | None = getattr(memo, "controller", None)
    if controller is not None:
        await controller.flush_events()
    health: HealthServer | None = getattr(memo, "health", None)
    if health is not None:
        await health.stop()
    memo.stopping = True
    task: asyncio.Task[None] | None = getattr(memo, "task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    api: client.ApiClient | None = getattr(memo, "api", None)
    if api is not None:
        await api.close()
