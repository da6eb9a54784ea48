"""End to end: the sample TranslationJob through the real operator and worker processes.

Everything is set up by the building blocks of `portalis-dev demo` (portalis_dev.demo), with one
difference per test: its own namespace, its own operator process watching only that namespace, and its
own work directory. The nodes are one of (PORTALIS_E2E_NODES, e2e_nodes.py):

- `real` (default, CI): real kubelet + containerd nodes (portalis_dev.realpool), the session's static
  pool of 3 spot and 1 on-demand DGX nodes (conftest.real_pool), running the worker image built by
  `make images`; a spot reclaim stops a node's kubelet, containers and containerd and deletes the Node,
  and the next job starts the pool's missing nodes again. Here the workers are checked to run from their
  image (the image's files, not the host's), and `kubectl logs` to reach them;
- `agent`: the node agent's simulated DGX nodes, whose pods run as host processes; each test has its
  own GPUPool and agent nodes (the pool is named after the namespace).

- fault-free: the job (3 shards, rules backend) reaches Succeeded and its crate builds with cargo;
- chaos: the same job while two spot nodes are deleted mid-run (the agent SIGKILLs their workers at
  once); it still Succeeds, its crate is byte-identical to the fault-free crate, and the ledgers show
  that no unit committed before a kill was translated again.

The sample project is copied COPIES times into the source, so that a shard runs long enough to be
killed after its first progress report and before its last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_nodes import REAL, top_up

from harness import wait_for
from portalis_dev import demo, images, realnode, realpool
from portalis_dev.agent import stop_agent
from portalis_dev.agent.nodes import NODE_TYPE as AGENT_NODE_TYPE
from portalis_dev.cluster import LocalCluster
from portalis_dev.layout import REPO_ROOT
from portalis_dev.nodes import CAPACITY_TYPE_LABEL, POOL_LABEL
from portalis_dev.toolchain import binary
from portalis_worker.protocol import PROGRESS_ANNOTATION, tree_digest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]  # real nodes: images and 4 nodes first

COPIES = int(os.environ.get("PORTALIS_E2E_COPIES", "5"))
NODES = {"spot": 3, "on-demand": 1}  # agent nodes; real ones: e2e_nodes.REAL_POOL_NODES
JOB_TIMEOUT = 600.0 if REAL else 300.0  # real: containers on 2 shared cores, crate built in the pod
# Progress reports every second (so a partial report comes early), and a job that stays on spot
# through two reclaims of all its shards (three shards pack onto one node).
# The translation memory on (off by default): the job's assembling worker writes its memory file to the
# claim's `.portalis/memory` as the worker's uid, and a resumed shard must make the same choices from
# the memory it pinned (the chaos run's bytes).
OVERRIDES: Mapping[str, Any] = {
    "checkpoint": {"interval": "1s"},
    "recovery": {"maxReclaims": 50, "onDemandAfterReclaims": 50},
    "translation": {"memory": True},
}


@dataclass
class Env:
    cluster: LocalCluster
    clients: demo.Clients
    namespace: str
    job: dict[str, Any]
    volumes: demo.Volumes
    pool: str

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def crate(self) -> Path:
        return demo.crate_dir(self.volumes, self.job)

    @property
    def ledger_dir(self) -> Path:
        return self.crate.parent / ".portalis" / "ledger"


@dataclass
class Outcome:
    job: dict[str, Any]
    files: dict[str, bytes]
    report: demo.Report | None
    build: demo.BuildResult | None
    ledgers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    inside: Inside | None = None
    memory_files: dict[str, int] = field(default_factory=dict)
    """The claim's translation memory after the job: file name -> size."""

    @property
    def phase(self) -> str:
        return demo.Snapshot.of(self.job).phase


@contextlib.contextmanager
def job_env(cluster: LocalCluster, namespace: str, real_pool: str | None) -> Iterator[Env]:
    """Nodes (agent nodes, or the module's real pool), GPUPool, volumes, source and operator for one
    namespace; all removed afterwards (the real pool by its fixture)."""
    clients = demo.Clients.of(cluster)
    demo.install_crds(clients)
    work = cluster.state_dir / "e2e" / namespace
    job = demo.job_manifest(namespace, overrides=OVERRIDES)
    volumes = demo.volume_manifests(namespace, work, job)
    operator = f"operator-{namespace}"
    pool = real_pool or namespace
    try:
        if real_pool is None:
            demo.ensure_agent(cluster, namespace, NODES, delete_nodes_on_exit=True)
            demo.apply_pool(clients, demo.pool_manifest(namespace))
        else:
            top_up(cluster, real_pool)
        demo.prepare_source(demo.source_root(volumes, job), copies=COPIES)
        demo.wipe_directory(volumes.output_dir)
        if real_pool is not None:
            realpool.writable_by_workers(
                volumes.output_dir, job["spec"]["output"]["persistentVolumeClaim"]["path"]
            )
        demo.apply_volumes(clients, volumes)
        extra_env = realpool.OPERATOR_ENV if real_pool is not None else None
        demo.start_operator(cluster, pool, [namespace], name=operator, extra_env=extra_env)
        yield Env(cluster, clients, namespace, job, volumes, pool)
    finally:
        demo.stop_process(cluster, operator)
        if real_pool is None:
            stop_agent(cluster, pool=namespace)
            with contextlib.suppress(Exception):
                clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)
        demo.delete_volumes(clients, volumes)
        shutil.rmtree(work, ignore_errors=True)


def finish(env: Env, build_dir: Path, inside: Inside | None = None) -> Outcome:
    """Wait for the job to end; snapshot the crate (before cargo writes Cargo.lock), build it."""
    final = demo.follow_job(
        env.clients,
        env.namespace,
        env.name,
        timeout=JOB_TIMEOUT,
        say=lambda line: print(f"[{env.namespace}] {line}"),
        alive=lambda: demo.process_running(env.cluster, f"operator-{env.namespace}"),
    )
    if demo.Snapshot.of(final).phase != "Succeeded":
        return Outcome(final, {}, None, None, inside=inside)
    files = wait_for(
        lambda: demo.tree_bytes(env.crate) if (env.crate / "translation_report.json").is_file() else None,
        timeout=30,
        what=f"the crate in {env.crate}",
    )
    return Outcome(
        final,
        files,
        demo.Report.read(env.crate),
        demo.cargo_build(env.crate, target_dir=build_dir),
        read_ledgers(env.ledger_dir),
        inside,
        {p.name: p.stat().st_size for p in (env.volumes.output_dir / ".portalis" / "memory").glob("*.mem")},
    )


# ---- ledgers (format: docs/worker.md, "Ledger"), read independently of the worker's code -------------


def read_ledgers(ledger_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Valid records of every shard-<i>.ledger: complete lines whose crc32 matches."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(ledger_dir.glob("shard-*.ledger")):
        records: list[dict[str, Any]] = []
        for line in path.read_bytes().split(b"\n")[:-1]:  # the part after the last LF is torn
            crc, _, body = line.partition(b" ")
            if len(crc) == 8 and re.fullmatch(rb"[0-9a-f]{8}", crc) and int(crc, 16) == zlib.crc32(body):
                records.append(json.loads(body))
        out[path.name] = records
    return out


def unit_ids(ledgers: Mapping[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    return {shard: {str(r["id"]) for r in recs if r.get("kind") == "unit"} for shard, recs in ledgers.items()}


# ---- inside a worker container on a real node ----------------------------------------------------------


@dataclass(frozen=True)
class Inside:
    """What a running worker container showed (`kubectl exec`) and `kubectl logs` of it."""

    pod: str
    exec_output: str
    logs_rc: int
    image_ids: tuple[tuple[str, str], ...] = ()
    """(node, imageID) of every worker container of the job, from pod status."""
    loaded: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """The images loaded into each node of the pool (realnode.loaded_images)."""


def _kubectl(env: Env, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("kubectl")), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env.cluster.env()},
    )


HOST_FILE = REPO_ROOT / "pyproject.toml"  # on the host, never in the image
WORKER_REF = realnode.normalised(images.reference("worker"))  # as the nodes' containerd names it
INSIDE_SCRIPT = f"test -e {HOST_FILE} && echo HOST-VISIBLE; id -u; command -v portalis-worker"


def look_inside_a_worker(env: Env) -> Inside:
    """`kubectl exec` into a running worker (while the job runs) and `kubectl logs` of it."""

    def attempt() -> Inside | None:
        for pod in demo.worker_pods(env.clients, env.namespace, env.name):
            if not _running(pod) or _progress(pod) is None:
                continue
            name = pod.metadata.name
            out = _kubectl(
                env, "exec", "-n", env.namespace, name, "-c", "worker", "--", "sh", "-c", INSIDE_SCRIPT
            )
            if out.returncode != 0:
                continue  # finished in between: try another
            logs = _kubectl(env, "logs", "-n", env.namespace, name, "-c", "worker")
            return Inside(name, out.stdout, logs.returncode)
        return None

    return wait_for(attempt, timeout=120, interval=0.5, what="a running worker to exec into")


def with_images(inside: Inside, env: Env) -> Inside:
    """`inside` with the image IDs the kubelets report for the job's worker containers, and the images
    each node of the pool was loaded with."""
    ids = tuple(
        (pod.spec.node_name, cs.image_id)
        for pod in demo.worker_pods(env.clients, env.namespace, env.name)
        for cs in pod.status.container_statuses or ()
        if cs.name == "worker"
    )
    loaded = {n.name: realnode.loaded_images(n) for n in realpool.pool_nodes(env.cluster, env.pool)}
    return dataclasses.replace(inside, image_ids=ids, loaded=loaded)


# ---- the tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_free(
    cluster: LocalCluster, real_pool: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Outcome:
    """The job run once without faults; its crate is the reference for the chaos run."""
    clients = demo.Clients.of(cluster)
    namespace = f"e2e-fault-free-{uuid.uuid4().hex[:5]}"
    demo.ensure_namespace(clients, namespace, {"portalis.dev/test": "true"})
    try:
        with job_env(cluster, namespace, real_pool) as env:
            demo.create_job(env.clients, env.job)
            inside = look_inside_a_worker(env) if real_pool else None
            outcome = finish(env, tmp_path_factory.mktemp("fault-free-target"), inside)
            if inside is not None:
                outcome.inside = with_images(inside, env)
            return outcome
    finally:
        clients.core.delete_namespace(namespace)


def test_sample_job_succeeds_and_its_crate_builds(fault_free: Outcome) -> None:
    assert fault_free.phase == "Succeeded", demo.condition_message(fault_free.job, "Failed")
    assert fault_free.report is not None
    assert fault_free.build is not None
    report = fault_free.report
    assert report.total > 0
    assert report.translated + report.failed == report.total
    assert report.translated >= 0.9 * report.total, report.failures
    progress = fault_free.job["status"]["progress"]
    assert progress["unitsTotal"] == report.total
    assert progress["percent"] == 100
    assert fault_free.build.ok, fault_free.build.output
    # every unit translated exactly once: no fault, no duplicate work
    counts = Counter(
        str(r["id"]) for recs in fault_free.ledgers.values() for r in recs if r["kind"] == "unit"
    )
    assert len(counts) == report.total
    assert set(counts.values()) == {1}
    assert {"Cargo.toml", "src/lib.rs", "translation_report.json"} <= set(fault_free.files)
    # status.result (issue 16): what the assembling worker reported, about the crate on the volume
    result = fault_free.job["status"]["result"]
    assert result["reported"] is True
    assert result["crate"]["digest"] == tree_digest(fault_free.files)
    assert result["crate"]["builds"] is True
    assert (result["units"]["total"], result["units"]["failed"]) == (report.total, report.failed)
    assert sum(r["count"] for r in result.get("failureReasons", [])) == report.failed
    # the translation memory: written to the claim by the assembling worker (as the worker's uid on real
    # nodes: a memory directory it could not write once kept every such job from finishing)
    assert len(fault_free.memory_files) == 1, fault_free.memory_files
    assert all(size > 0 for size in fault_free.memory_files.values())


@pytest.mark.skipif(
    not REAL, reason="the node agent runs workers as host processes (PORTALIS_E2E_NODES=real)"
)
def test_workers_run_from_the_worker_image_and_kubectl_logs_reaches_them(fault_free: Outcome) -> None:
    inside = fault_free.inside
    assert inside is not None
    lines = inside.exec_output.splitlines()
    assert "HOST-VISIBLE" not in lines, f"{inside.pod} sees the host's {HOST_FILE}"
    assert lines[0] == "65532"
    assert not lines[1].startswith(str(REPO_ROOT)), f"{inside.pod} runs the host's portalis-worker"
    assert inside.logs_rc == 0, "kubectl logs of a running worker failed"
    assert inside.image_ids, "no worker container status"
    for node, image_id in inside.image_ids:
        digests = inside.loaded[node].get(WORKER_REF, [])
        assert image_id.rsplit("@", 1)[-1] in digests, f"{image_id} is not the worker image {digests}"


@dataclass(frozen=True)
class Kill:
    node: str
    shards: frozenset[str]  # ledger file names of the shards killed
    committed: dict[str, set[str]]  # unit ids in each ledger right after the kill


def _progress(pod: Any) -> dict[str, Any] | None:
    raw = (pod.metadata.annotations or {}).get(PROGRESS_ANNOTATION)
    try:
        return dict(json.loads(raw)) if raw else None
    except ValueError:
        return None


def _running(pod: Any) -> bool:
    return any(
        cs.name == "worker" and cs.state and cs.state.running and cs.container_id
        for cs in pod.status.container_statuses or ()
    )


def _pid(pod: Any) -> int | None:
    """The agent's worker process (its container ID is `agent://<pid>`); None on real nodes."""
    for cs in pod.status.container_statuses or ():
        if cs.name == "worker" and cs.state and cs.state.running and cs.container_id:
            ident = cs.container_id.rsplit("://", 1)[-1]
            return int(ident) if ident.isdigit() else None
    return None


def _dead(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def kill_a_spot_node_mid_run(env: Env, done: set[str]) -> Kill:
    """Wait for a running worker on a spot node that has reported some but not all of its units, then
    reclaim that node (real: stop it and delete the Node; agent: delete the Node and wait until the
    agent has killed its workers), and read the ledgers."""
    node_type = realnode.NODE_TYPE if REAL else AGENT_NODE_TYPE
    spot_nodes = {
        n.metadata.name
        for n in env.clients.core.list_node(label_selector=f"{POOL_LABEL}={env.pool},type={node_type}").items
        if n.metadata.labels.get(CAPACITY_TYPE_LABEL) == "spot" and n.metadata.name not in done
    }

    def victim() -> Any:
        for pod in demo.worker_pods(env.clients, env.namespace, env.name):
            report = _progress(pod)
            if (
                pod.spec.node_name in spot_nodes
                and pod.status.phase == "Running"
                and pod.metadata.deletion_timestamp is None
                and _running(pod)
                and report is not None
                and 0 < report["unitsDone"] + report["unitsFailed"] < report["unitsTotal"]
            ):
                return pod
        return None

    pod = wait_for(victim, timeout=120, interval=0.1, what="a spot worker with partial progress")
    node = pod.spec.node_name
    on_node = [
        p
        for p in demo.worker_pods(env.clients, env.namespace, env.name)
        if p.spec.node_name == node and _running(p)
    ]
    shards = frozenset(f"shard-{p.metadata.labels['portalis.dev/shard']}.ledger" for p in on_node)
    print(f"[{env.namespace}] reclaiming node {node} under {sorted(shards)}: {_progress(pod)}")
    if REAL:
        (real,) = [n for n in realpool.pool_nodes(env.cluster, env.pool) if n.name == node]
        realnode.reclaim(real, env.clients.core)  # returns once its containers are killed
    else:
        pids = [pid for p in on_node if (pid := _pid(p)) is not None]
        env.clients.core.delete_node(node)
        wait_for(
            lambda: all(_dead(pid) for pid in pids),
            timeout=30,
            interval=0.05,
            what=f"workers on {node} killed",
        )
    return Kill(node, shards, unit_ids(read_ledgers(env.ledger_dir)))


def test_two_spot_reclaims_mid_run_lose_no_work_and_change_no_byte(
    cluster: LocalCluster, real_pool: str | None, namespace: str, fault_free: Outcome, tmp_path: Path
) -> None:
    assert fault_free.phase == "Succeeded", "the fault-free reference run failed"
    with job_env(cluster, namespace, real_pool) as env:
        demo.create_job(env.clients, env.job)
        kills: list[Kill] = []
        for _ in range(2):
            kills.append(kill_a_spot_node_mid_run(env, {k.node for k in kills}))
        outcome = finish(env, tmp_path / "target")

    assert outcome.phase == "Succeeded", demo.condition_message(outcome.job, "Failed")
    assert outcome.job["status"]["recoveries"]["reclaims"] >= 2
    assert outcome.build is not None
    assert outcome.build.ok, outcome.build.output

    # byte-identical crate, every file
    assert sorted(outcome.files) == sorted(fault_free.files)
    differing = [p for p in outcome.files if outcome.files[p] != fault_free.files[p]]
    assert not differing, f"files differ from the fault-free crate: {differing}"

    # no unit translated twice, except the ones in flight (not yet committed) at a kill
    counts = Counter(
        (shard, str(r["id"])) for shard, recs in outcome.ledgers.items() for r in recs if r["kind"] == "unit"
    )
    for (shard, uid), n in counts.items():
        in_flight_at = [k for k in kills if shard in k.shards and uid not in k.committed.get(shard, set())]
        assert n <= 1 + len(in_flight_at), (
            f"{shard}: unit {uid} recorded {n} times but in flight at only {len(in_flight_at)} kill(s)"
        )
    for kill in kills:
        for shard in kill.shards:
            committed = kill.committed.get(shard, set())
            redone = [u for u in committed if counts[(shard, u)] > 1]
            assert not redone, (
                f"{shard}: units committed before the kill of {kill.node} were redone: {redone}"
            )
    duplicates = sum(n - 1 for n in counts.values())
    committed_total = sum(len(k.committed.get(s, set())) for k in kills for s in k.shards)
    assert committed_total > 0, "the kills came before any unit was committed: nothing was tested"
    print(f"[{namespace}] kills: {[k.node for k in kills]}; duplicate unit records: {duplicates}")
    # the same units in total as the fault-free run
    assert {u for _, u in counts} == {
        str(r["id"]) for recs in fault_free.ledgers.values() for r in recs if r["kind"] == "unit"
    }
