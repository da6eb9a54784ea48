"""The connection to the cluster, chosen the way kubectl chooses it (--kubeconfig, --context, -n), and
the few API calls the commands share. API errors become one-line PluginErrors here."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from portalis_kubectl.errors import Exit, PluginError

GROUP, VERSION, PLURAL = "portalis.dev", "v1alpha1", "translationjobs"
API_VERSION = f"{GROUP}/{VERSION}"
FINAL_PHASES = ("Succeeded", "Failed")
T = TypeVar("T")


@dataclass
class Session:
    api: Any
    namespace: str
    context: str | None

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> Any:
        return client.CustomObjectsApi(self.api)

    @property
    def rbac(self) -> Any:
        return client.RbacAuthorizationV1Api(self.api)

    def job(self, name: str) -> dict[str, Any]:
        """The TranslationJob `name` in the session's namespace; NOT_FOUND when there is none."""
        with api_errors(f'translationjob "{name}"', namespace=self.namespace):
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name
            )
        return obj


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Session:
    """A session as kubectl would open it: the kubeconfig (--kubeconfig, else $KUBECONFIG, else
    ~/.kube/config), its current context unless --context, the context's namespace unless -n."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts if c["name"] == context), None) if context else current
        if context and chosen is None:
            raise PluginError(f'context "{context}" not found in the kubeconfig', Exit.USAGE)
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    except ConfigException as exc:
        raise PluginError(f"kubeconfig: {exc}", Exit.USAGE) from exc
    ns = namespace or ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return Session(api, ns, context)


def _reason(exc: ApiException) -> str:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(exc.body)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    return f"{exc.status} {exc.reason}".strip()


@contextlib.contextmanager
def api_errors(what: str, namespace: str | None = None) -> Iterator[None]:
    """Turn API and connection errors into one-line PluginErrors naming `what`."""
    where = f' in namespace "{namespace}"' if namespace else ""
    try:
        yield
    except ApiException as exc:
        if exc.status == 404:
            raise PluginError(f"{what} not found{where}", Exit.NOT_FOUND) from exc
        raise PluginError(f"{what}: {_reason(exc)}", Exit.API) from exc
    except (HTTPError, OSError) as exc:
        raise PluginError(f"cannot reach the API server: {exc}", Exit.API) from exc


def poll(read: Callable[[], T | None], timeout: float | None, what: str, interval: float = 1.0) -> T:
    """Call `read` until it returns something; TIMEOUT after `timeout` seconds (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        value = read()
        if value is not None:
            return value
        if deadline is not None and time.monotonic() >= deadline:
            raise PluginError(f"timed out after {timeout:.0f} s waiting for {what}", Exit.TIMEOUT)
        time.sleep(interval)


def phase(job: dict[str, Any]) -> str:
    return str((job.get("status") or {}).get("phase") or "Pending")


def condition(job: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") == kind:
            return dict(c)
    return {}
