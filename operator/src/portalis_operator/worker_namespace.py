"""What a job's namespace needs before its workers start: the workers' ServiceAccount, Roles, bindings and
NetworkPolicy (once per namespace and operator run), and a ConfigMap output's ConfigMaps (per job). Made
by writes.Writer, through its fenced, bounded `writing` slot, before a job's pods are created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import metrics
from portalis_operator.api import TranslationJob
from portalis_operator.informer import reason_of, sent
from portalis_operator.made_config_maps import Live, MadeConfigMaps
from portalis_operator.manifests import output_config_maps
from portalis_operator.network_policy import worker_network_policy
from portalis_operator.settings import Settings

log = logging.getLogger(__name__)


class WorkerNamespaces:
    """`writing()`: the writer's slot (bounded concurrency, the fence checked right before each call)."""

    def __init__(
        self,
        settings: Settings,
        api: client.ApiClient,
        writing: Callable[[], AbstractAsyncContextManager[None]],
        live: Live = lambda _ns, _uid: False,
    ) -> None:
        """`live(namespace, uid)`: the job exists (the watch cache); without it every create is sent."""
        self.settings = settings
        self._live = live
        self.made = MadeConfigMaps()
        self.core = client.CoreV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.networking = client.NetworkingV1Api(api)
        self._writing = writing
        self._worker_accounts: set[str] = set()
        self._accounts_in_flight: dict[str, asyncio.Task[None]] = {}  # namespace -> its set-up

    async def ensure_output_config_maps(self, ns: str, job: TranslationJob) -> bool:
        """A ConfigMap output's ConfigMaps (manifests.output_config_maps), created before the pods. One
        that exists is kept: the job's own from an earlier cycle, or another object's, which the worker
        then refuses (exit 5, its writers do not name it). One this operator created for another job
        that still exists is not even sent (made_config_maps.py: it could only get 409). False when a
        create failed otherwise. They are created side by side: none depends on another."""
        uid = job.metadata.uid or ""

        async def create(body: dict[str, Any]) -> bool:
            name = body["metadata"]["name"]
            try:
                async with self._writing():
                    await sent(
                        lambda: self.core.create_namespaced_config_map(ns, body, _preload_content=False)
                    )
            except ApiException as exc:
                if exc.status != 409:
                    metrics.RECONCILE_ERRORS.labels("pods").inc()
                    log.error("configmap %s/%s not created: %s", ns, name, reason_of(exc))
                    return False
                return True
            self.made.record(ns, name, uid, self._live)
            return True

        bodies = [
            b
            for b in output_config_maps(job)
            if not self.made.owned_elsewhere(ns, b["metadata"]["name"], uid, self._live)
        ]
        return all(await asyncio.gather(*(create(body) for body in bodies)))

    async def ensure_worker_account(self, ns: str) -> None:
        """The worker's ServiceAccount in a job's namespace, allowed only to read and patch pods there
        (to report progress; the chart's worker-token ValidatingAdmissionPolicy narrows the patch to its
        own pod's annotations), and the workers' NetworkPolicy. Created once per namespace and operator
        run; existing objects are kept (a platform team may have adapted them). Jobs of the same
        namespace started at once share one set-up instead of each making it."""
        if ns in self._worker_accounts:
            return
        task = self._accounts_in_flight.get(ns)
        if task is None:
            task = asyncio.create_task(self._set_up_worker_account(ns), name=f"portalis-account-{ns}")
            self._accounts_in_flight[ns] = task
            task.add_done_callback(lambda _: self._accounts_in_flight.pop(ns, None))
        await asyncio.shield(task)

    async def _set_up_worker_account(self, ns: str) -> None:
        sa = self.settings.worker_service_account
        labels = {"app.kubernetes.io/managed-by": "portalis-operator"}
        objects: list[Callable[[], Awaitable[Any]]] = [
            lambda: self.core.create_namespaced_service_account(
                ns, {"metadata": {"name": sa, "labels": labels}}, _preload_content=False
            ),
            lambda: self.rbac.create_namespaced_role(
                ns,
                {
                    "metadata": {"name": sa, "labels": labels},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}],
                },
                _preload_content=False,
            ),
            lambda: self.rbac.create_namespaced_role_binding(
                ns,
                {
                    "metadata": {"name": sa, "labels": labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
                },
                _preload_content=False,
            ),
            # ConfigMap outputs (configmap_output.py in the worker): read the shards' ledgers, update the
            # ConfigMaps whose writers annotation names the token's pod (the chart's policy). No create,
            # no delete: the operator creates them, owned by the job. A Role of its own, so that a
            # namespace whose pods-only Role predates it gets it too.
            lambda: self.rbac.create_namespaced_role(
                ns,
                {
                    "metadata": {"name": f"{sa}-output", "labels": labels},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}],
                },
                _preload_content=False,
            ),
            lambda: self.rbac.create_namespaced_role_binding(
                ns,
                {
                    "metadata": {"name": f"{sa}-output", "labels": labels},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": f"{sa}-output",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
                },
                _preload_content=False,
            ),
        ]
        if self.settings.worker_network_policy:
            objects.append(
                lambda: self.networking.create_namespaced_network_policy(
                    ns, worker_network_policy(sa, ns), _preload_content=False
                )
            )
        for create in objects:
            try:
                async with self._writing():
                    await sent(create)
            except ApiException as exc:
                if exc.status != 409:
                    metrics.RECONCILE_ERRORS.labels("pods").inc()
                    log.error("worker service account in %s: %s", ns, reason_of(exc))
                    return
        self._worker_accounts.add(ns)
