"""The agent's one settings object, parsed and validated once at start-up and passed down."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from portalis_dev.nodes import CapacityType

DEFAULT_INTERRUPTION_TAINTS = ("karpenter.sh/disrupted", "portalis.dev/interruption")
# Variables of the agent's own environment that a pod must not inherit: it gets its own API
# credentials (or none), never the agent's admin kubeconfig.
PRIVATE_ENV = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


class AgentConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    kubeconfig: Path
    state_dir: Path
    """The control plane's state directory; the agent keeps its files under `<state_dir>/agent`."""
    nodes: dict[CapacityType, int]
    pool: str = "default"
    agent_id: str
    lease_duration_seconds: int = Field(default=40, ge=2)
    """Node Lease duration; the lease is renewed every quarter of it, as the kubelet does."""
    status_interval_seconds: float = Field(default=10.0, gt=0)
    """How often the Ready condition's heartbeat in node status is refreshed."""
    command_map: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Program name -> argv prefix that replaces it (e.g. tritonserver -> a stand-in script)."""
    interruption_taint_keys: tuple[str, ...] = DEFAULT_INTERRUPTION_TAINTS
    delete_nodes_on_exit: bool = False
    base_env: dict[str, str]
    """The environment every container process starts from (container env is laid over it)."""
    machine_namespace: str | None = None
    """With `machine_deployments`: the namespace of the pool's Cluster API MachineDeployments."""
    machine_deployments: dict[CapacityType, str] = Field(default_factory=dict)
    """Capacity type -> MachineDeployment whose replicas the agent turns into Machines and served nodes
    (agent/machines.py): the pool then grows and shrinks with the operator's clusterAPI provider."""

    @model_validator(mode="after")
    def _some_nodes(self) -> AgentConfig:
        if any(n < 0 for n in self.nodes.values()):
            raise ValueError("no negative node counts")
        if bool(self.machine_deployments) != bool(self.machine_namespace):
            raise ValueError("machine deployments and their namespace go together")
        if sum(self.nodes.values()) == 0 and not self.machine_deployments:
            raise ValueError("need at least one node (or machine deployments that make them)")
        return self

    @property
    def root(self) -> Path:
        return self.state_dir / "agent"

    @property
    def renew_interval_seconds(self) -> float:
        return self.lease_duration_seconds / 4


def parse_nodes(text: str) -> dict[CapacityType, int]:
    """`spot=2,on-demand=1` -> {"spot": 2, "on-demand": 1}."""
    allowed = get_args(CapacityType)
    out: dict[CapacityType, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, count = part.partition("=")
        if kind not in allowed or not count.strip().isdigit():
            raise ValueError(f"bad node spec {part!r}: want <{'|'.join(allowed)}>=<count>")
        capacity_type: CapacityType = "spot" if kind == "spot" else "on-demand"
        out[capacity_type] = out.get(capacity_type, 0) + int(count)
    return out


def parse_machine_deployments(text: str) -> dict[CapacityType, str]:
    """`spot=pool-spot,on-demand=pool-od` -> {"spot": "pool-spot", "on-demand": "pool-od"}."""
    allowed = get_args(CapacityType)
    out: dict[CapacityType, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, name = part.partition("=")
        if kind not in allowed or not name.strip():
            raise ValueError(f"bad machine deployment {part!r}: want <{'|'.join(allowed)}>=<name>")
        out["spot" if kind == "spot" else "on-demand"] = name.strip()
    return out


def parse_command_map(entries: list[str]) -> dict[str, tuple[str, ...]]:
    """`["tritonserver=/opt/fake-triton --quiet"]` -> {"tritonserver": ("/opt/fake-triton", "--quiet")}."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        name, sep, target = entry.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"bad command map entry {entry!r}: want <program>=<path> [args]")
        out[name.strip()] = tuple(shlex.split(target))
    return out


def default_base_env(environ: dict[str, str]) -> dict[str, str]:
    """The agent's environment minus its private variables, with this Python's bin dir first on PATH.

    That bin dir is the project's virtualenv when the agent runs from it, so `portalis-worker` and
    friends resolve like programs baked into an image would.
    """
    env = {k: v for k, v in environ.items() if k not in PRIVATE_ENV}
    bindir = str(Path(sys.executable).parent)
    path = env.get("PATH", os.defpath).split(os.pathsep)
    if bindir not in path:
        path.insert(0, bindir)
    env["PATH"] = os.pathsep.join(path)
    return env


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The agent's options (shared by `portalis-dev agent` and `python -m portalis_dev.agent`)."""
    p.add_argument("--nodes", default="", help="nodes to own, e.g. spot=2,on-demand=1")
    p.add_argument("--pool", default="default", help="portalis.dev/pool label of its nodes")
    p.add_argument("--agent-id", help="identity written on owned nodes (default: agent-<pool>)")
    p.add_argument("--kubeconfig", help="admin kubeconfig (default: <state dir>/kubeconfig)")
    p.add_argument("--lease-duration", type=int, default=40, help="node lease duration in seconds")
    p.add_argument("--status-interval", type=float, default=10.0, help="node status heartbeat in seconds")
    p.add_argument(
        "--command-map",
        action="append",
        default=[],
        metavar="PROGRAM=PATH",
        help="run PATH (may carry arguments) where a container's command names PROGRAM; repeatable",
    )
    p.add_argument(
        "--interruption-taint",
        action="append",
        metavar="KEY",
        help="taint key that is a termination notice for a node's pods; repeatable "
        f"(default: {', '.join(DEFAULT_INTERRUPTION_TAINTS)})",
    )
    p.add_argument("--delete-nodes-on-exit", action="store_true", help="delete owned nodes on shutdown")
    p.add_argument(
        "--machine-deployments",
        default="",
        metavar="spot=NAME,on-demand=NAME",
        help="Cluster API MachineDeployments whose replicas become nodes of this agent "
        "(with --machine-namespace)",
    )
    p.add_argument("--machine-namespace", help="namespace of the --machine-deployments")


def from_args(args: argparse.Namespace, state_dir: Path, environ: dict[str, str]) -> AgentConfig:
    return AgentConfig(
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else state_dir / "kubeconfig",
        state_dir=state_dir,
        nodes=parse_nodes(args.nodes),
        pool=args.pool,
        agent_id=args.agent_id or f"agent-{args.pool}",
        lease_duration_seconds=args.lease_duration,
        status_interval_seconds=args.status_interval,
        command_map=parse_command_map(args.command_map),
        interruption_taint_keys=tuple(args.interruption_taint or DEFAULT_INTERRUPTION_TAINTS),
        delete_nodes_on_exit=args.delete_nodes_on_exit,
        base_env=default_base_env(environ),
        machine_namespace=getattr(args, "machine_namespace", None),
        machine_deployments=parse_machine_deployments(getattr(args, "machine_deployments", "") or ""),
    )
