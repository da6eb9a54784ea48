"""End to end: a ConfigMap output with three shards (issue 13, item 3).

The output used to go to an emptyDir in each pod, so with parallelism > 1 the shards' ledgers never met
and the crate never assembled. Now each shard mirrors its ledger into its own ConfigMap and the last one
to finish writes the crate into the output ConfigMap (docs/api.md, "ConfigMap output"). The workers write
with their own pod-bound tokens through the chart's worker-token policies, applied here for real. The
workers run on the session's real nodes from the worker image (PORTALIS_E2E_NODES, e2e_nodes.py).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_nodes import REAL, top_up

from portalis_dev import demo, realpool
from portalis_dev.agent import stop_agent
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary
from portalis_worker.configmap_output import unpack_crate, unpack_ledger
from portalis_worker.protocol import CRATE_KEY, LEDGER_KEY, WRITERS_ANNOTATION, tree_digest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]  # real nodes: the pool's nodes start first

CHART = Path(__file__).resolve().parents[2] / "charts" / "portalis"
OUTPUT = "shopkit-crate"
COPIES = 1
NODES = {"spot": 3, "on-demand": 1}  # agent nodes; real ones: e2e_nodes.REAL_POOL_NODES
JOB_TIMEOUT = 600.0 if REAL else 300.0  # real: containers on 2 shared cores


@dataclass
class Env:
    cluster: LocalCluster
    clients: demo.Clients
    namespace: str
    job: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def operator(self) -> str:
        return f"operator-{self.namespace}"

    def follow(self, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        return demo.follow_job(
            self.clients,
            self.namespace,
            self.name,
            timeout=timeout,
            say=lambda line: print(f"[{self.namespace}] {line}"),
            alive=lambda: demo.process_running(self.cluster, self.operator),
        )


@contextlib.contextmanager
def configmap_job_env(
    cluster: LocalCluster,
    namespace: str,
    real_pool: str | None,
    copies: int = COPIES,
    operator_env: Mapping[str, str] | None = None,
) -> Iterator[Env]:
    """The sample job (3 shards) with `spec.output.configMap`, nodes (the session's real pool, or agent
    nodes and a GPUPool of their own), the source volume and an operator watching `namespace`; all
    removed afterwards (the real pool by its fixture). The job is not created yet."""
    clients = demo.Clients.of(cluster)
    demo.install_crds(clients)
    work = cluster.state_dir / "e2e" / namespace
    job = demo.job_manifest(namespace, name="cm-output", overrides={"checkpoint": {"interval": "1s"}})
    volumes = demo.volume_manifests(namespace, work, job)  # the PVC source (and an unused output claim)
    job["spec"]["output"] = {"configMap": {"name": OUTPUT}}
    env = Env(cluster, clients, namespace, job)
    pool = real_pool or namespace
    extra_env = {**(realpool.OPERATOR_ENV if real_pool else {}), **(operator_env or {})}
    try:
        if real_pool is None:
            demo.ensure_agent(cluster, namespace, NODES, delete_nodes_on_exit=True)
            demo.apply_pool(clients, demo.pool_manifest(namespace))
        else:
            top_up(cluster, real_pool)
        demo.prepare_source(demo.source_root(volumes, job), copies=copies)
        demo.apply_volumes(clients, volumes)
        demo.start_operator(cluster, pool, [namespace], name=env.operator, extra_env=extra_env or None)
        yield env
    finally:
        demo.stop_process(cluster, env.operator)
        if real_pool is None:
            stop_agent(cluster, pool=namespace)
            with contextlib.suppress(Exception):
                clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)
        demo.delete_volumes(clients, volumes)
        shutil.rmtree(work, ignore_errors=True)


def ledger_records(data: bytes) -> list[dict[str, Any]]:
    """Valid records of a ledger (docs/worker.md, "Ledger"), read independently of the worker's code:
    complete lines whose crc32 matches."""
    records: list[dict[str, Any]] = []
    for line in data.split(b"\n")[:-1]:  # the part after the last LF is torn
        crc, _, body = line.partition(b" ")
        if len(crc) == 8 and re.fullmatch(rb"[0-9a-f]{8}", crc) and int(crc, 16) == zlib.crc32(body):
            records.append(json.loads(body))
    return records


def read_outputs(env: Env) -> tuple[Any, dict[str, bytes], list[list[dict[str, Any]]]]:
    """The output ConfigMap, the crate in it, and each shard's ledger records from its ConfigMap."""
    core = env.clients.core
    output = core.read_namespaced_config_map(OUTPUT, env.namespace)
    files = unpack_crate(_binary(output, CRATE_KEY))
    ledgers = [
        ledger_records(
            unpack_ledger(
                _binary(core.read_namespaced_config_map(f"{env.name}-w{s}-ledger", env.namespace), LEDGER_KEY)
            )
        )
        for s in range(3)
    ]
    return output, files, ledgers


def _binary(cm: Any, key: str) -> bytes:
    return base64.b64decode((cm.binary_data or {})[key])


def fetch(cluster: LocalCluster, namespace: str, job: str, dest: Path) -> dict[str, bytes]:
    """`kubectl portalis fetch JOB -o DEST` (it checks the digest), and the files it wrote."""
    env = {**os.environ, **cluster.env()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        [str(binary("kubectl")), "portalis", "-n", namespace, "fetch", job, "-o", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def test_three_shards_assemble_one_crate_into_the_output_configmap(
    cluster: LocalCluster, namespace: str, worker_policies: None, real_pool: str | None, tmp_path: Path
) -> None:
    with configmap_job_env(cluster, namespace, real_pool) as env:
        assert env.job["spec"]["parallelism"] == 3
        demo.create_job(env.clients, env.job)
        final = env.follow()
        assert demo.Snapshot.of(final).phase == "Succeeded", demo.condition_message(final, "Failed")
        output, files, ledgers = read_outputs(env)
        fetched = fetch(cluster, namespace, env.name, tmp_path / "fetched")
        owners = [
            [
                o.uid
                for o in env.clients.core.read_namespaced_config_map(n, namespace).metadata.owner_references
            ]
            for n in (OUTPUT, *(f"{env.name}-w{s}-ledger" for s in range(3)))
        ]

    assert owners == [[final["metadata"]["uid"]]] * 4  # owned by the job: deleted with it
    assert output.metadata.annotations[WRITERS_ANNOTATION] == ",".join(f"{env.name}-w{s}" for s in range(3))
    assert {"Cargo.toml", "src/lib.rs", "translation_report.json"} <= set(files)
    assert fetched == files  # kubectl portalis fetch reads the ConfigMap
    result = final["status"]["result"]
    assert result["output"] == f"configmap://{OUTPUT}"
    assert result["crate"]["digest"] == tree_digest(files)
    # every unit of the job exactly once across the three shards' ledgers, as the crate's report counts
    assert all(any(r["kind"] == "done" for r in recs) for recs in ledgers)
    counts = Counter(str(r["id"]) for recs in ledgers for r in recs if r["kind"] == "unit")
    assert set(counts.values()) == {1}
    assert len(counts) == result["units"]["total"] > 0
