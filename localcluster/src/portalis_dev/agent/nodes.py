"""The agent's nodes: what they look like, registering or adopting them, and keeping them Ready.

A node is kept Ready the way a kubelet keeps it: its Lease in kube-node-lease is renewed every quarter
of the lease duration, and the Ready condition's heartbeat in node status is refreshed every status
interval. Without both, the controller-manager's node lifecycle controller marks it NotReady/Unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portalis_dev import nodes as dgx
from portalis_dev.agent.config import AgentConfig
from portalis_dev.versions import KUBERNETES

log = logging.getLogger(__name__)

AGENT_ANNOTATION = "portalis.dev/agent"
NODE_TYPE = "portalis-agent"
LEASE_NAMESPACE = "kube-node-lease"
HOST_IP = "127.0.0.1"
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def k8s_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> datetime:
    return datetime.now(UTC)


# ---- pure builders -------------------------------------------------------------------------------


def node_conditions(heartbeat: datetime, ready_since: datetime) -> list[dict[str, str]]:
    hb, since = k8s_time(heartbeat), k8s_time(ready_since)
    pressure = [
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ]
    conds = [
        {
            "type": t,
            "status": "False",
            "reason": r,
            "message": m,
            "lastHeartbeatTime": hb,
            "lastTransitionTime": since,
        }
        for t, r, m in pressure
    ]
    conds.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "portalis local node agent is posting ready status",
            "lastHeartbeatTime": hb,
            "lastTransitionTime": since,
        }
    )
    return conds


def build_agent_node(spec: dgx.DGXNode, agent_id: str, at: datetime) -> dict[str, Any]:
    """A simulated DGX node (same labels, taint and capacity as kwok's) that this agent runs pods on.

    It carries no kwok annotation, so kwok leaves it alone, and it says which agent owns it.
    """
    node = dgx.build_node(spec)
    meta = node["metadata"]
    meta["annotations"] = {AGENT_ANNOTATION: agent_id}
    meta["labels"]["type"] = NODE_TYPE
    node["status"].update(
        {
            "conditions": node_conditions(at, at),
            "addresses": [
                {"type": "InternalIP", "address": HOST_IP},
                {"type": "Hostname", "address": spec.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBERNETES,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "portalis-agent://local-processes",
                "kernelVersion": "",
                "osImage": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
    )
    return node


def build_lease(node_name: str, node_uid: str, duration: int, at: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            # Owned by the node, as the kubelet does, so deleting the node collects its lease.
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": duration, "renewTime": micro_time(at)},
    }


@dataclass(frozen=True)
class NodePlan:
    adopt: list[str]
    create: list[dgx.DGXNode]


def plan_nodes(existing: list[dict[str, Any]], config: AgentConfig) -> NodePlan:
    """Which existing nodes this agent takes back (its own, from an earlier run) and which it creates."""
    adopt: list[str] = []
    create: list[dgx.DGXNode] = []
    names = {n["metadata"]["name"] for n in existing}
    for capacity_type, count in config.nodes.items():
        mine = sorted(
            n["metadata"]["name"]
            for n in existing
            if (n["metadata"].get("annotations") or {}).get(AGENT_ANNOTATION) == config.agent_id
            and (n["metadata"].get("labels") or {}).get(dgx.CAPACITY_TYPE_LABEL) == capacity_type
            and not n["metadata"].get("deletionTimestamp")
        )
        adopt += mine[:count]
        for name in dgx.next_names(names, config.pool, capacity_type, count - len(mine[:count])):
            names.add(name)
            zone = dgx.ZONES[len(names) % len(dgx.ZONES)]
            create.append(dgx.DGXNode(name=name, capacity_type=capacity_type, zone=zone, pool=config.pool))
    return NodePlan(adopt, create)


# ---- I/O -----------------------------------------------------------------------------------------


class NodeKeeper:
    """Registers the agent's nodes and heartbeats each until it is deleted or the agent stops."""

    def __init__(self, core: Any, coordination: Any, config: AgentConfig) -> None:
        self._core = core
        self._coord = coordination
        self._config = config
        self._beats: dict[str, asyncio.Task[None]] = {}
        self.names: list[str] = []

    async def register(self) -> list[str]:
        resp = await self._core.list_node(
            label_selector=f"{dgx.POOL_LABEL}={self._config.pool}", _preload_content=False
        )
        existing = (await resp.json())["items"]
        plan = plan_nodes(existing, self._config)
        for name in plan.adopt:
            log.info("adopting node %s", name)
        for spec in plan.create:
            log.info("registering node %s (%s, %s)", spec.name, spec.capacity_type, spec.zone)
            await self._core.create_node(build_agent_node(spec, self._config.agent_id, now()))
        self.names = plan.adopt + [s.name for s in plan.create]
        return self.names

    def start(self, on_gone: Callable[[str], None]) -> None:
        for name in self.names:
            self.serve(name, on_gone)

    def serve(self, name: str, on_gone: Callable[[str], None]) -> None:
        """Heartbeat `name` from now on (a node registered at start, or one made later for a Machine)."""
        if name not in self._beats:
            self._beats[name] = asyncio.create_task(self._heartbeat(name, on_gone), name=f"heartbeat-{name}")

    async def wait_schedulable(self, within: float = 30.0) -> None:
        """Until the node lifecycle controller has lifted its not-ready taint from every node."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for name in self.names:
            while loop.time() < deadline:
                node = await self._core.read_node(name)
                if not any(t.key in NOT_READY_TAINTS for t in node.spec.taints or []):
                    break
                await asyncio.sleep(0.2)
            else:
                log.warning("node %s still carries a not-ready taint", name)

    def forget(self, name: str) -> None:
        """Stop heartbeating a node (it was deleted)."""
        task = self._beats.pop(name, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        for task in self._beats.values():
            task.cancel()
        for task in list(self._beats.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._config.delete_nodes_on_exit:
            for name in list(self._beats):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._core.delete_node(name), timeout=5)
                    log.info("deleted node %s", name)
        self._beats.clear()

    async def _heartbeat(self, name: str, on_gone: Callable[[str], None]) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        cfg = self._config
        ready_since: datetime | None = None
        last_status = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                node = await self._core.read_node(name)
                await self._renew_lease(name, node.metadata.uid)
                if loop.time() - last_status >= cfg.status_interval_seconds or ready_since is None:
                    ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
                    if ready_since is None or ready is None or ready.status != "True":
                        ready_since = now()  # a transition (or our first word on it)
                        if ready is not None and ready.status == "True" and ready.last_transition_time:
                            ready_since = ready.last_transition_time
                    body = {"status": {"conditions": node_conditions(now(), ready_since)}}
                    await self._core.patch_node_status(name, body)
                    last_status = loop.time()
            except ApiException as exc:
                if exc.status == 404:
                    log.warning("node %s is gone; no more heartbeats for it", name)
                    self._beats.pop(name, None)
                    on_gone(name)
                    return
                log.warning("heartbeat for %s failed: %s", name, exc.reason)
            except (TimeoutError, OSError) as exc:
                log.warning("heartbeat for %s failed: %s", name, exc)
            await asyncio.sleep(cfg.renew_interval_seconds)

    async def _renew_lease(self, name: str, uid: str) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        at = now()
        try:
            await self._coord.patch_namespaced_lease(
                name,
                LEASE_NAMESPACE,
                {
                    "spec": {
                        "renewTime": micro_time(at),
                        "holderIdentity": name,
                        "leaseDurationSeconds": self._config.lease_duration_seconds,
                    }
                },
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = build_lease(name, uid, self._config.lease_duration_seconds, at)
            await self._coord.create_namespaced_lease(LEASE_NAMESPACE, lease)
