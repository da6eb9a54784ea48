"""The agent: owns its nodes, watches the pods bound to them and the nodes themselves, runs pod workers.

One pod watch per node (field selector spec.nodeName, as a kubelet's), one node watch on the pool.
Reactions: a new pod gets a PodWorker; a deletionTimestamp starts its graceful termination; a deleted
node kills its pods' processes at once and stops its heartbeats (a hard spot reclaim); an interruption
taint on a node sends its pods' processes SIGTERM once (a termination notice).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from portalis_dev.agent import watching
from portalis_dev.agent.config import AgentConfig
from portalis_dev.agent.context import AgentContext
from portalis_dev.agent.nodes import NodeKeeper
from portalis_dev.agent.pods import Mode, PodWorker
from portalis_dev.nodes import POOL_LABEL

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 3.0


def initial_mode(pod: dict[str, Any]) -> Mode:
    """How to take on a pod first seen by this agent process (it may predate a restart of the agent)."""
    st = pod.get("status") or {}
    if st.get("phase") in ("Succeeded", "Failed"):
        return "done"
    statuses = [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]
    started = any("waiting" not in (s.get("state") or {"waiting": {}}) for s in statuses)
    if st.get("phase") == "Running" or started:
        return "lost"
    return "run"


def interruption_tainted(node: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(t.get("key") in keys for t in (node.get("spec") or {}).get("taints") or [])


class Agent:
    def __init__(self, ctx: AgentContext, keeper: NodeKeeper, custom: Any = None) -> None:
        self.ctx = ctx
        self._custom = custom
        """kubernetes_asyncio CustomObjectsApi (for Machines and MachineDeployments)."""
        self.keeper = keeper
        self.workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pod_watches: dict[str, asyncio.Task[None]] = {}
        self._finished: deque[str] = deque(maxlen=2048)
        self._interrupted: set[str] = set()
        self.nodes: set[str] = set()
        self._node_watch: asyncio.Task[None] | None = None
        self._machines: asyncio.Task[None] | None = None

    # ---- start / stop ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.nodes = set(await self.keeper.register())
        self.keeper.start(self.node_deleted)
        await self.keeper.wait_schedulable()
        self._node_watch = asyncio.create_task(
            watching.list_watch(
                self.ctx.core.list_node,
                self._on_node_list,
                self._on_node_event,
                label_selector=f"{POOL_LABEL}={self.ctx.config.pool}",
            ),
            name="node-watch",
        )
        for node in sorted(self.nodes):
            self._watch_pods(node)
        if self.ctx.config.machine_deployments:
            from portalis_dev.agent.machines import MachineReconciler

            reconciler = MachineReconciler(self.ctx.core, self._custom, self.ctx.config, self.serve)
            await reconciler.reconcile()  # the deployments' current replicas served before "owns nodes"
            self._machines = asyncio.create_task(reconciler.run(), name="machines")
        log.info("agent %s owns nodes %s", self.ctx.config.agent_id, ", ".join(sorted(self.nodes)))

    def _watch_pods(self, node: str) -> None:
        self._pod_watches[node] = asyncio.create_task(
            watching.list_watch(
                self.ctx.core.list_pod_for_all_namespaces,
                functools.partial(self._on_pod_list, node),
                self._on_pod_event,
                field_selector=f"spec.nodeName={node}",
            ),
            name=f"pod-watch-{node}",
        )

    def serve(self, name: str) -> None:
        """Take on a node made after start (for a Machine): heartbeats and its pods, like the others."""
        if name in self.nodes:
            return
        log.info("serving node %s", name)
        self.nodes.add(name)
        self.keeper.serve(name, self.node_deleted)
        self._watch_pods(name)

    async def stop(self) -> None:
        """Stop every process (SIGTERM, a short grace, SIGKILL); leave or delete the nodes."""
        for task in [self._machines, self._node_watch, *self._pod_watches.values()]:
            if task is not None:
                task.cancel()
        for w in self.workers.values():
            w.stopping = w.sidecars_stopping = w.node_gone = True  # report nothing more
            for p in w.procs.values():
                p.terminate_once()
        waiters = [asyncio.ensure_future(p.wait()) for w in self.workers.values() for p in w.procs.values()]
        if waiters:
            await asyncio.wait(waiters, timeout=SHUTDOWN_GRACE_SECONDS)
        for w in self.workers.values():
            w.kill_now()
        for w_task in waiters:
            w_task.cancel()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.keeper.stop()

    # ---- nodes -------------------------------------------------------------------------------------

    def _on_node_list(self, items: list[dict[str, Any]]) -> None:
        present = {n["metadata"]["name"] for n in items}
        for name in sorted(self.nodes - present):
            self.node_deleted(name)
        for node in items:
            self._on_node_event("MODIFIED", node)

    def _on_node_event(self, kind: str, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        if name not in self.nodes:
            return
        if kind == "DELETED":
            self.node_deleted(name)
            return
        tainted = interruption_tainted(node, self.ctx.config.interruption_taint_keys)
        if tainted and name not in self._interrupted:
            log.info("node %s has an interruption taint: termination notice to its pods", name)
            self._interrupted.add(name)
            for w in self.workers.values():
                if w.node == name:
                    w.interrupt()
        elif not tainted:
            self._interrupted.discard(name)

    def node_deleted(self, name: str) -> None:
        if name not in self.nodes:
            return
        log.warning("node %s deleted: killing its pods' processes", name)
        self.nodes.discard(name)
        self.keeper.forget(name)
        watch = self._pod_watches.pop(name, None)
        if watch is not None:
            watch.cancel()
        for w in self.workers.values():
            if w.node == name:
                w.kill_now()

    # ---- pods --------------------------------------------------------------------------------------

    def _on_pod_list(self, node: str, items: list[dict[str, Any]]) -> None:
        present = {p["metadata"]["uid"] for p in items}
        for uid, w in list(self.workers.items()):
            if w.node == node and uid not in present:
                w.request_deletion(0)  # removed while we were not watching
        for pod in items:
            self._on_pod_event("MODIFIED", pod)

    def _on_pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        worker = self.workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.request_deletion(meta.get("deletionGracePeriodSeconds") or 0)
            return
        if worker is not None:
            worker.update(pod)
            return
        if uid in self._finished or pod["spec"].get("nodeName") not in self.nodes:
            return
        mode = initial_mode(pod)
        worker = PodWorker(self.ctx, pod, mode)
        if worker.node in self._interrupted:
            worker.interrupted = True
        log.info("%s/%s: new pod on %s (%s)", meta["namespace"], meta["name"], worker.node, mode)
        self.workers[uid] = worker
        self._tasks[uid] = asyncio.create_task(self._run_worker(worker), name=f"pod-{worker.key}")

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: worker failed", worker.key)
        finally:
            self.workers.pop(worker.uid, None)
            self._tasks.pop(worker.uid, None)
            self._finished.append(worker.uid)


async def _context(config: AgentConfig) -> tuple[AgentContext, Any, Any, Any]:
    from kubernetes_asyncio import client
    from kubernetes_asyncio import config as kconfig

    api = await kconfig.new_client_from_config(config_file=str(config.kubeconfig))
    conf = api.configuration
    url = urlparse(conf.host)
    ca_pem = Path(conf.ssl_ca_cert).read_bytes() if conf.ssl_ca_cert else b""  # noqa: ASYNC240 - once
    ctx = AgentContext(
        core=client.CoreV1Api(api),
        config=config,
        api_host=url.hostname or "127.0.0.1",
        api_port=url.port or 443,
        ca_pem=ca_pem,
    )
    return ctx, client.CoordinationV1Api(api), client.CustomObjectsApi(api), api


async def run(config: AgentConfig, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    ctx, coordination, custom, api = await _context(config)
    (config.root / "pods").mkdir(parents=True, exist_ok=True)
    agent = Agent(ctx, NodeKeeper(ctx.core, coordination, config), custom)
    try:
        await agent.start()
        await stop.wait()
        log.info("stopping: terminating processes")
    finally:
        await agent.stop()
        await api.close()
        log.info("agent %s stopped", config.agent_id)
