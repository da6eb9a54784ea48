"""Running the agent: in the foreground (CLI) or as a managed background process of a LocalCluster.

In the background it is recorded like a control-plane component (pids/agent-<pool>.pid, logs/
agent-<pool>.log in the cluster's state directory), so `LocalCluster.down()` stops it with the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from portalis_dev import processes
from portalis_dev.agent.config import DEFAULT_INTERRUPTION_TAINTS, AgentConfig, from_args
from portalis_dev.cluster import LocalCluster
from portalis_dev.layout import default_state_dir

READY_MARK = "owns nodes"


def main(args: argparse.Namespace) -> int:
    """Foreground entry point shared by `portalis-dev agent` and `python -m portalis_dev.agent`."""
    from portalis_dev.agent.agent import run

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    state_dir = (Path(args.state_dir) if args.state_dir else default_state_dir()).resolve()
    try:
        config = from_args(args, state_dir, dict(os.environ))
    except ValueError as exc:
        print(f"portalis-dev agent: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run(config))
    return 0


def process_name(pool: str) -> str:
    return f"agent-{pool}"


def start_agent(
    cluster: LocalCluster,
    nodes: Mapping[str, int],
    pool: str = "default",
    *,
    lease_duration_seconds: int = 40,
    status_interval_seconds: float = 10.0,
    command_map: Mapping[str, str] | None = None,
    interruption_taint_keys: tuple[str, ...] = DEFAULT_INTERRUPTION_TAINTS,
    delete_nodes_on_exit: bool = False,
    env: Mapping[str, str] | None = None,
    wait_seconds: float = 60.0,
    machine_namespace: str | None = None,
    machine_deployments: Mapping[str, str] | None = None,
) -> processes.Recorded:
    """Start an agent for `cluster` in the background and wait until it has registered its nodes.

    With `machine_deployments` ({"spot": name, "on-demand": name} in `machine_namespace`) it also serves
    the nodes of those Cluster API MachineDeployments (agent/machines.py); `nodes` may then be empty."""
    argv = [
        sys.executable,
        "-m",
        "portalis_dev.agent",
        f"--state-dir={cluster.state_dir}",
        f"--nodes={','.join(f'{k}={v}' for k, v in nodes.items())}",
        f"--pool={pool}",
        f"--lease-duration={lease_duration_seconds}",
        f"--status-interval={status_interval_seconds}",
        *(f"--command-map={k}={v}" for k, v in (command_map or {}).items()),
        *(f"--interruption-taint={k}" for k in interruption_taint_keys),
        *(["--delete-nodes-on-exit"] if delete_nodes_on_exit else []),
        *(
            [
                f"--machine-namespace={machine_namespace}",
                f"--machine-deployments={','.join(f'{k}={v}' for k, v in machine_deployments.items())}",
            ]
            if machine_deployments
            else []
        ),
    ]
    name = process_name(pool)
    log = log_path(cluster, pool)
    offset = log.stat().st_size if log.is_file() else 0
    full_env = dict(os.environ if env is None else env)
    full_env.update(cluster.env())
    rec = processes.start(name, argv, cluster.state_dir, env=full_env)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        text = log.read_bytes()[offset:].decode(errors="replace") if log.is_file() else ""
        if READY_MARK in text:
            return rec
        if not processes.alive(rec):
            processes.stop(rec, cluster.state_dir)
            raise RuntimeError(f"agent {name} exited during start-up:\n{text[-3000:]}")
        time.sleep(0.1)
    processes.stop(rec, cluster.state_dir)
    raise RuntimeError(f"agent {name} did not register its nodes in {wait_seconds:.0f} s")


def stop_agent(cluster: LocalCluster, pool: str = "default", grace: float = 15.0) -> None:
    """Stop the background agent of `pool` (no-op when it is not running)."""
    for rec in processes.recorded(cluster.state_dir):
        if rec.name == process_name(pool):
            processes.stop(rec, cluster.state_dir, grace=grace)


def log_path(cluster: LocalCluster, pool: str) -> Path:
    return cluster.state_dir / "logs" / f"{process_name(pool)}.log"


def agent_config(cluster: LocalCluster, nodes: Mapping[str, int], pool: str = "default") -> AgentConfig:
    """An AgentConfig for running the agent in-process (`portalis_dev.agent.agent.run`)."""
    args = argparse.Namespace(
        kubeconfig=None,
        nodes=",".join(f"{k}={v}" for k, v in nodes.items()),
        pool=pool,
        agent_id=None,
        lease_duration=40,
        status_interval=10.0,
        command_map=[],
        interruption_taint=None,
        delete_nodes_on_exit=False,
        machine_namespace=None,
        machine_deployments="",
    )
    return from_args(args, cluster.state_dir, dict(os.environ))
