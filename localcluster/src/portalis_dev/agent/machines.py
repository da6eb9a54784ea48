"""Machine mode: the agent as a tiny Cluster API infrastructure provider for its pool.

The operator's clusterAPI NodeProvider scales a pool by setting `spec.replicas` of one MachineDeployment per
capacity type (through the scale subresource) and removes a chosen node by annotating its Machine
`cluster.x-k8s.io/delete-machine` and lowering the replicas. This reconciler makes that real on the local
control plane, with nodes that run pods:

- replicas above the live Machines: a Machine is created (labelled with its deployment) and then an agent
  node of the same name (annotated with the Machine, as Cluster API's nodes are), which this agent serves
  from then on (heartbeats, pods as processes);
- replicas below: Machines marked `delete-machine` go first, then the newest; their nodes are deleted;
- a Machine whose node has disappeared (a spot reclaim deletes the Node) is deleted, and the next round
  replaces it while the replicas stay (what a MachineHealthCheck and the MachineSet do together).

Polled every INTERVAL seconds; the pool is small. Names follow the agent's nodes (`dgx-<pool>-spot-<i>`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portalis_dev import nodes as dgx
from portalis_dev.agent.config import AgentConfig
from portalis_dev.agent.nodes import build_agent_node, now

log = logging.getLogger(__name__)

GROUP, VERSION = "cluster.x-k8s.io", "v1beta1"
MACHINE_DEPLOYMENTS, MACHINES = "machinedeployments", "machines"
DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
MACHINE_ANNOTATION = "cluster.x-k8s.io/machine"
NAMESPACE_ANNOTATION = "cluster.x-k8s.io/cluster-namespace"
DELETE_MACHINE_ANNOTATION = "cluster.x-k8s.io/delete-machine"
MERGE_PATCH = "application/merge-patch+json"
INTERVAL = 0.5
CRDS = Path(__file__).with_name("cluster_api_crds.yaml")
"""The minimal MachineDeployment and Machine CRDs this mode needs (installed by whoever sets it up)."""


def machine_deployment(namespace: str, name: str, pool: str, replicas: int) -> dict[str, Any]:
    """A MachineDeployment as the agent's machine mode reads it (replicas; the rest is for readers)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MachineDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {dgx.POOL_LABEL: pool}},
        "spec": {"clusterName": "portalis-local", "replicas": replicas},
    }


def _index(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else -1


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def scale_down_order(machines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Machines in the order a scale-down removes them: marked `delete-machine` first, then newest."""

    def key(m: dict[str, Any]) -> tuple[bool, int, str]:
        marked = DELETE_MACHINE_ANNOTATION in ((m["metadata"].get("annotations")) or {})
        return (not marked, -_index(m["metadata"]["name"]), m["metadata"]["name"])

    return sorted(machines, key=key)


class MachineReconciler:
    def __init__(self, core: Any, custom: Any, config: AgentConfig, serve: Callable[[str], None]) -> None:
        self._core = core
        self._custom = custom
        self._config = config
        self._serve = serve
        self._ns = str(config.machine_namespace)
        self._missing: set[str] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("machines: %s", exc)
            await asyncio.sleep(INTERVAL)

    async def _nodes(self) -> dict[str, dict[str, Any]]:
        resp = await self._core.list_node(
            label_selector=f"{dgx.POOL_LABEL}={self._config.pool}", _preload_content=False
        )
        try:
            items = (await resp.json())["items"]
        finally:
            resp.release()
        return {n["metadata"]["name"]: n for n in items}

    async def reconcile(self) -> None:
        nodes = await self._nodes()
        taken = set(nodes)
        for capacity_type, deployment in self._config.machine_deployments.items():
            try:
                md = await self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, self._ns, MACHINE_DEPLOYMENTS, deployment
                )
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                if deployment not in self._missing:
                    log.warning("MachineDeployment %s/%s not found", self._ns, deployment)
                    self._missing.add(deployment)
                continue
            self._missing.discard(deployment)
            replicas = int((md.get("spec") or {}).get("replicas") or 0)
            listing = await self._custom.list_namespaced_custom_object(
                GROUP, VERSION, self._ns, MACHINES, label_selector=f"{DEPLOYMENT_LABEL}={deployment}"
            )
            machines = list(listing.get("items") or [])
            taken |= {m["metadata"]["name"] for m in machines}
            live: list[dict[str, Any]] = []
            for m in machines:
                name = m["metadata"]["name"]
                node = nodes.get(name)
                provisioned = bool((m.get("status") or {}).get("nodeRef"))
                if provisioned and (node is None or node["metadata"].get("deletionTimestamp")):
                    log.info("machine %s lost its node: deleting it (replaced while replicas stay)", name)
                    await self._delete_machine(name)
                    continue
                live.append(m)
            for m in scale_down_order(live)[: max(0, len(live) - replicas)]:
                name = m["metadata"]["name"]
                log.info("scale-down of %s: deleting machine and node %s", deployment, name)
                await self._delete_node(name)
                await self._delete_machine(name)
                live.remove(m)
            for m in live:
                name = m["metadata"]["name"]
                if name not in nodes:
                    await self._provision(name, capacity_type)
                else:
                    self._serve(name)
            for name in dgx.next_names(taken, self._config.pool, capacity_type, max(0, replicas - len(live))):
                taken.add(name)
                log.info("scale-up of %s: machine and node %s", deployment, name)
                await self._custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    self._ns,
                    MACHINES,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Machine",
                        "metadata": {
                            "name": name,
                            "namespace": self._ns,
                            "labels": {DEPLOYMENT_LABEL: deployment, dgx.POOL_LABEL: self._config.pool},
                        },
                        "spec": {"clusterName": "portalis-local"},
                    },
                )
                await self._provision(name, capacity_type)
            ready = len(live) + 0
            status = md.get("status") or {}
            if status.get("replicas") != replicas or status.get("readyReplicas") != ready:
                await self._custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    self._ns,
                    MACHINE_DEPLOYMENTS,
                    deployment,
                    {"status": {"replicas": replicas, "readyReplicas": min(ready, replicas)}},
                    _content_type=MERGE_PATCH,
                )

    async def _provision(self, name: str, capacity_type: dgx.CapacityType) -> None:
        """The Machine's node: an agent node annotated with its Machine, served from now on."""
        spec = dgx.DGXNode(
            name=name,
            capacity_type=capacity_type,
            zone=dgx.ZONES[max(_index(name), 0) % len(dgx.ZONES)],
            pool=self._config.pool,
        )
        body = build_agent_node(spec, self._config.agent_id, now())
        body["metadata"]["annotations"].update({MACHINE_ANNOTATION: name, NAMESPACE_ANNOTATION: self._ns})
        try:
            await self._core.create_node(body)
        except Exception as exc:
            if _status(exc) != 409:  # a node of that name still being deleted: next round
                raise
            return
        await self._custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            self._ns,
            MACHINES,
            name,
            {"status": {"nodeRef": {"kind": "Node", "name": name}, "phase": "Running"}},
            _content_type=MERGE_PATCH,
        )
        self._serve(name)

    async def _delete_node(self, name: str) -> None:
        try:
            await self._core.delete_node(name)
        except Exception as exc:
            if _status(exc) != 404:
                raise

    async def _delete_machine(self, name: str) -> None:
        try:
            await self._custom.delete_namespaced_custom_object(GROUP, VERSION, self._ns, MACHINES, name)
        except Exception as exc:
            if _status(exc) != 404:
                raise
