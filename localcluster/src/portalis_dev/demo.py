"""`portalis-dev demo`: translate the sample project end to end on the local control plane.

Steps (each one a function here, so the end-to-end tests run the very same code):

1. bring the control plane up (`LocalCluster.up`, a no-op when it is up);
2. install the CRDs (server-side apply) and wait until they are Established;
3. start the node agent with simulated DGX nodes whose pods run as local processes (or, with
   `--real-nodes`, real kubelet nodes that run the worker image: realpool.py);
4. create the GPUPool (static provider selecting the agent's nodes, so kwok nodes of the same pool
   name never receive work that nothing would run);
5. copy the sample project into a source directory and create hostPath PV/PVC pairs for the source
   and the output (examples/pvcs.yaml with its placeholders rewritten);
6. start the operator as a managed background process (stopped by `portalis-dev down`);
7. apply the TranslationJob (examples/translationjob.yaml), print one line per status change, and
   finally build the crate with `cargo build --offline` and print the translation report's counts.

A rerun deletes the previous job (waiting for its worker pods to go) and wipes the output first.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portalis_dev import processes
from portalis_dev.agent import log_path as agent_log_path
from portalis_dev.agent import start_agent
from portalis_dev.agent.managed import process_name as agent_process_name
from portalis_dev.agent.nodes import NODE_TYPE
from portalis_dev.cluster import LocalCluster
from portalis_dev.layout import REPO_ROOT, default_state_dir
from portalis_dev.nodes import CAPACITY_TYPE_LABEL, POOL_LABEL

GROUP, VERSION = "portalis.dev", "v1alpha1"
JOBS, POOLS = "translationjobs", "gpupools"
JOB_LABEL = "portalis.dev/job"
FIELD_MANAGER = "portalis-dev"
APPLY = "application/apply-patch+yaml"

EXAMPLES = REPO_ROOT / "examples"
SAMPLE_PROJECT = EXAMPLES / "sample-project"
JOB_MANIFEST = EXAMPLES / "translationjob.yaml"
PVC_MANIFEST = EXAMPLES / "pvcs.yaml"
POOL_MANIFEST = EXAMPLES / "gpupool.yaml"
CRD_DIR = REPO_ROOT / "crds"

DEFAULT_NAMESPACE = "portalis-demo"
DEFAULT_NODES: Mapping[str, int] = {"spot": 2, "on-demand": 1}
OPERATOR = "operator"

Say = Callable[[str], None]


class DemoError(RuntimeError):
    """The demo could not complete; the message says which step and why."""


# ---- small helpers ------------------------------------------------------------------------------------


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a manifest file (empty documents skipped)."""
    if not path.is_file():
        raise DemoError(f"{path.relative_to(REPO_ROOT)} is missing")
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    return dict(obj.to_dict())


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until `predicate()` is truthy (exceptions count as "not yet"); DemoError on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as exc:  # reported on timeout
            last = exc
        if time.monotonic() >= deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what} (last saw: {last!r})")
        time.sleep(interval)


@dataclass(frozen=True)
class Clients:
    """The synchronous Kubernetes API clients of one control plane."""

    api: Any
    core: Any
    custom: Any
    ext: Any

    @classmethod
    def of(cls, cluster: LocalCluster) -> Clients:
        from kubernetes import client, config

        api = config.new_client_from_config(str(cluster.kubeconfig))
        return cls(
            api=api,
            core=client.CoreV1Api(api),
            custom=client.CustomObjectsApi(api),
            ext=client.ApiextensionsV1Api(api),
        )


# ---- CRDs, namespace, pool ----------------------------------------------------------------------------


def install_crds(clients: Clients, timeout: float = 60.0, paths: Iterable[Path] | None = None) -> list[str]:
    """Apply CRD files (default: the project's crds/*.yaml) server-side and wait until every CRD is
    Established; returns their names."""
    names: list[str] = []
    for path in sorted(CRD_DIR.glob("*.yaml")) if paths is None else paths:
        for body in load_documents(path):
            name = body["metadata"]["name"]
            clients.ext.patch_custom_resource_definition(
                name, body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
            )
            names.append(name)

    def established(name: str) -> bool:
        conds = clients.ext.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    for name in names:
        wait_until(lambda n=name: established(n), timeout, f"CRD {name} to be Established")  # type: ignore[misc]
    return names


def ensure_namespace(clients: Clients, namespace: str, labels: Mapping[str, str] | None = None) -> None:
    """Create (or keep) a namespace and wait until its default ServiceAccount exists."""
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": dict(labels or {})},
    }
    clients.core.patch_namespace(
        namespace, body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
    )
    wait_until(
        lambda: clients.core.read_namespaced_service_account("default", namespace),
        60,
        f"the default ServiceAccount of namespace {namespace}",
    )


def pool_manifest(pool: str, path: Path = POOL_MANIFEST, node_type: str = NODE_TYPE) -> dict[str, Any]:
    """examples/gpupool.yaml as a pool named `pool` whose nodes are exactly the agent's nodes (or, with
    `node_type`, the real nodes of realpool.py).

    The provider becomes `static` with a node selector on the pool label and the node type: a kwok
    provider would add simulated nodes on which pods are "Running" but nothing runs them.
    """
    (body,) = [d for d in load_documents(path) if d.get("kind") == "GPUPool"]
    body = copy.deepcopy(body)
    body["metadata"] = {"name": pool, "labels": dict((body.get("metadata") or {}).get("labels") or {})}
    spec = body.setdefault("spec", {})
    spec["provider"] = {"type": "static", "static": {"nodeSelector": {POOL_LABEL: pool, "type": node_type}}}
    spec.setdefault("spot", {})["capacityTypeLabel"] = CAPACITY_TYPE_LABEL
    body.pop("status", None)
    return body


def apply_pool(clients: Clients, body: Mapping[str, Any]) -> None:
    clients.custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        POOLS,
        body["metadata"]["name"],
        dict(body),
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type=APPLY,
    )


def example_pool_name(path: Path = POOL_MANIFEST) -> str:
    (body,) = [d for d in load_documents(path) if d.get("kind") == "GPUPool"]
    return str(body["metadata"]["name"])


# ---- source, volumes ----------------------------------------------------------------------------------


def prepare_source(dest: Path, copies: int = 1, sample: Path = SAMPLE_PROJECT) -> Path:
    """Replace `dest` with the sample project; with copies > 1, `copy-<i>/` holds each copy (a bigger
    job with the same content, for runs that must be slow enough to interrupt)."""
    if not sample.is_dir():
        raise DemoError(f"{sample.relative_to(REPO_ROOT)} is missing")
    if copies < 1:
        raise ValueError("copies must be at least 1")
    shutil.rmtree(dest, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    if copies == 1:
        shutil.copytree(sample, dest, ignore=ignore)
    else:
        for i in range(1, copies + 1):
            shutil.copytree(sample, dest / f"copy-{i}", ignore=ignore)
    return dest


def wipe_directory(path: Path) -> None:
    """Empty `path` (created if missing), hidden entries (the ledger in .portalis/) included."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@dataclass(frozen=True)
class Volumes:
    """The PV/PVC pairs of one job: claim names and the local directories behind them."""

    namespace: str
    source_claim: str
    output_claim: str
    source_dir: Path
    output_dir: Path
    manifests: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def persistent_volumes(self) -> list[str]:
        return [m["metadata"]["name"] for m in self.manifests if m["kind"] == "PersistentVolume"]


def job_claims(job: Mapping[str, Any]) -> tuple[str, str]:
    """(source claim, output claim) of a TranslationJob manifest with PVC source and output."""
    spec = job.get("spec") or {}
    try:
        return (
            str(spec["source"]["persistentVolumeClaim"]["claimName"]),
            str(spec["output"]["persistentVolumeClaim"]["claimName"]),
        )
    except (KeyError, TypeError) as exc:
        raise DemoError("the TranslationJob needs a persistentVolumeClaim source and output") from exc


PLACEHOLDER = "/PORTALIS_DEMO_DIR"


def volume_manifests(
    namespace: str,
    work_dir: Path,
    job: Mapping[str, Any],
    path: Path = PVC_MANIFEST,
) -> Volumes:
    """examples/pvcs.yaml for `namespace`, its hostPath placeholder `/PORTALIS_DEMO_DIR` rewritten to
    `work_dir` (so the source volume is `work_dir/source`, the output `work_dir/output`).

    The claims are the ones the job names. Their PersistentVolumes (cluster-scoped) are renamed
    `<namespace>-<claim>` and pre-bound with a claimRef, so two namespaces (the demo, each e2e test)
    never share or steal each other's volumes.
    """
    source_claim, output_claim = job_claims(job)
    docs = load_documents(path)
    claims = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    pvs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "PersistentVolume"}
    out: list[dict[str, Any]] = []
    dirs: list[Path] = []
    for claim_name in (source_claim, output_claim):
        if claim_name not in claims:
            raise DemoError(f"{path.name} has no PersistentVolumeClaim {claim_name!r} (the job's claim)")
        pvc: dict[str, Any] = copy.deepcopy(claims[claim_name])
        pvc_spec: dict[str, Any] = pvc.setdefault("spec", {})
        template = pvs.get(str(pvc_spec.get("volumeName", "")))
        if template is None:
            raise DemoError(f"{path.name}: claim {claim_name!r} names no PersistentVolume of the file")
        host = str(((template.get("spec") or {}).get("hostPath") or {}).get("path", ""))
        if not host.startswith(PLACEHOLDER):
            raise DemoError(
                f"{path.name}: the hostPath of {template['metadata']['name']} lacks {PLACEHOLDER}"
            )
        directory = work_dir / host[len(PLACEHOLDER) :].lstrip("/")
        dirs.append(directory)
        pv_name = f"{namespace}-{claim_name}"[:253]
        pv: dict[str, Any] = copy.deepcopy(template)
        labels = dict((pv.get("metadata") or {}).get("labels") or {})
        pv["metadata"] = {"name": pv_name, "labels": {**labels, "portalis.dev/demo-namespace": namespace}}
        pv_spec: dict[str, Any] = pv.setdefault("spec", {})
        pv_spec["hostPath"] = {**pv_spec["hostPath"], "path": str(directory)}
        pv_spec["claimRef"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": namespace,
            "name": claim_name,
        }
        pvc["metadata"] = {**(pvc.get("metadata") or {}), "name": claim_name, "namespace": namespace}
        pvc_spec["volumeName"] = pv_name
        pvc.pop("status", None)
        pv.pop("status", None)
        out += [pv, pvc]
    return Volumes(namespace, source_claim, output_claim, dirs[0], dirs[1], tuple(out))


def source_root(volumes: Volumes, job: Mapping[str, Any]) -> Path:
    """The directory the job reads: <source volume>/<source path>."""
    sub = str(job["spec"]["source"]["persistentVolumeClaim"].get("path") or "/").strip("/")
    return volumes.source_dir / sub if sub else volumes.source_dir


def apply_volumes(clients: Clients, volumes: Volumes, timeout: float = 60.0) -> None:
    """Create the PV/PVC pairs (kept when they exist as wanted; recreated when their path changed) and
    wait until both claims are Bound."""
    volumes.source_dir.mkdir(parents=True, exist_ok=True)
    volumes.output_dir.mkdir(parents=True, exist_ok=True)
    for body in volumes.manifests:
        name = body["metadata"]["name"]
        if body["kind"] == "PersistentVolume":
            try:
                current = clients.core.read_persistent_volume(name)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                current = None
            want = body["spec"]["hostPath"]["path"]
            if current is not None and (
                current.spec.host_path is None
                or current.spec.host_path.path != want
                or current.status.phase in ("Released", "Failed")
            ):
                # hostPath is immutable, and a Released volume never binds again: start over.
                claim, ns = body["spec"]["claimRef"]["name"], body["spec"]["claimRef"]["namespace"]
                _delete_and_wait(
                    lambda c=claim, n=ns: clients.core.delete_namespaced_persistent_volume_claim(c, n),  # type: ignore[misc]
                    lambda c=claim, n=ns: clients.core.read_namespaced_persistent_volume_claim(c, n),  # type: ignore[misc]
                )
                _delete_and_wait(
                    lambda n=name: clients.core.delete_persistent_volume(n),  # type: ignore[misc]
                    lambda n=name: clients.core.read_persistent_volume(n),  # type: ignore[misc]
                )
                current = None
            if current is None:
                clients.core.create_persistent_volume(body)
            # The claim goes in once the PV controller has seen the volume (phase Available).
            wait_until(
                lambda n=name: clients.core.read_persistent_volume(n).status.phase in ("Available", "Bound"),  # type: ignore[misc]
                timeout,
                f"PersistentVolume {name} to be Available",
            )
        else:
            ns = body["metadata"]["namespace"]
            try:
                clients.core.read_namespaced_persistent_volume_claim(name, ns)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                clients.core.create_namespaced_persistent_volume_claim(ns, body)
    _wait_bound(clients, volumes.namespace, [volumes.source_claim, volumes.output_claim], timeout)


POKE_SECONDS = 2.0


def _wait_bound(clients: Clients, namespace: str, claims: list[str], timeout: float) -> None:
    """Wait until the claims are Bound.

    Measured here: the PV controller of kube-controller-manager sometimes binds a pre-bound claim only
    at its next periodic resync (15 s) although both objects exist. A claim still unbound after
    POKE_SECONDS gets an annotation update, an event that makes the controller sync it at once.
    """
    last_poke = time.monotonic()

    def bound() -> bool:
        nonlocal last_poke
        pending = [
            c
            for c in claims
            if clients.core.read_namespaced_persistent_volume_claim(c, namespace).status.phase != "Bound"
        ]
        if pending and time.monotonic() - last_poke >= POKE_SECONDS:
            last_poke = time.monotonic()
            for c in pending:
                clients.core.patch_namespaced_persistent_volume_claim(
                    c,
                    namespace,
                    {"metadata": {"annotations": {"portalis.dev/bind-poke": f"{last_poke:.0f}"}}},
                )
        return not pending

    wait_until(bound, timeout, f"PersistentVolumeClaims {namespace}/{claims} to be Bound")


def delete_volumes(clients: Clients, volumes: Volumes) -> None:
    """Delete the claims and their volumes (the directories stay)."""
    for body in volumes.manifests:
        with contextlib.suppress(Exception):
            if body["kind"] == "PersistentVolumeClaim":
                clients.core.delete_namespaced_persistent_volume_claim(
                    body["metadata"]["name"], body["metadata"]["namespace"]
                )
    for name in volumes.persistent_volumes:
        with contextlib.suppress(Exception):
            clients.core.delete_persistent_volume(name)


def _delete_and_wait(delete: Callable[[], Any], read: Callable[[], Any], timeout: float = 60.0) -> None:
    try:
        delete()
    except Exception as exc:
        if _status(exc) != 404:
            raise

    def gone() -> bool:
        try:
            read()
        except Exception as exc:
            if _status(exc) == 404:
                return True
            raise
        return False

    wait_until(gone, timeout, "an object to be deleted")


# ---- processes: agent and operator -------------------------------------------------------------------


def ensure_agent(
    cluster: LocalCluster,
    pool: str,
    nodes: Mapping[str, int] = DEFAULT_NODES,
    *,
    delete_nodes_on_exit: bool = False,
) -> processes.Recorded:
    """The node agent of `pool`, started in the background unless it already runs.

    Workers share the host's network, so the agent gives them PORTALIS_METRICS_PORT=0: several workers
    on one machine would otherwise all bind the default metrics port and all but one would fail.
    """
    for rec in processes.recorded(cluster.state_dir):
        if rec.name == agent_process_name(pool):
            if processes.alive(rec):
                return rec
            processes.stop(rec, cluster.state_dir)
    env = dict(os.environ)
    env["PORTALIS_METRICS_PORT"] = "0"
    return start_agent(
        cluster, nodes=dict(nodes), pool=pool, env=env, delete_nodes_on_exit=delete_nodes_on_exit
    )


def agent_nodes(clients: Clients, pool: str) -> list[Any]:
    """The agent's (Ready or not) nodes of `pool`."""
    return list(clients.core.list_node(label_selector=f"{POOL_LABEL}={pool},type={NODE_TYPE}").items)


def operator_env(
    cluster: LocalCluster, pool: str, namespaces: Iterable[str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(cluster.env())
    env.update(
        {
            "PORTALIS_OPERATOR_POOL": pool,
            "PORTALIS_OPERATOR_NAMESPACES": json.dumps(sorted(namespaces)),
            "PORTALIS_OPERATOR_METRICS_PORT": "0",
            "PORTALIS_OPERATOR_HEALTH_PORT": "0",
            "PORTALIS_OPERATOR_RESYNC_SECONDS": "2",
        }
    )
    env.update(extra or {})
    return env


def start_operator(
    cluster: LocalCluster,
    pool: str,
    namespaces: Iterable[str],
    *,
    name: str = OPERATOR,
    extra_env: Mapping[str, str] | None = None,
    wait_seconds: float = 60.0,
) -> processes.Recorded:
    """(Re)start the operator as a managed process `name` (pids/<name>.pid, logs/<name>.log), so
    `portalis-dev down` stops it, and wait until it has started its scheduling loop.

    It runs as `python -m portalis_operator.main` rather than through the `portalis-operator` script:
    a script's process shows its interpreter as argv[0], and `processes.alive` would not recognise it.
    """
    stop_process(cluster, name)
    log = cluster.state_dir / "logs" / f"{name}.log"
    offset = log.stat().st_size if log.is_file() else 0
    rec = processes.start(
        name,
        [sys.executable, "-m", "portalis_operator.main"],
        cluster.state_dir,
        env=operator_env(cluster, pool, namespaces, extra_env),
    )

    def started() -> bool:
        text = log.read_bytes()[offset:].decode(errors="replace") if log.is_file() else ""
        if "portalis operator started" in text:
            return True
        if not processes.alive(rec):
            processes.stop(rec, cluster.state_dir)
            raise DemoError(f"the operator exited during start-up:\n{text[-3000:]}")
        return False

    try:
        wait_until(started, wait_seconds, "the operator to start")
    except DemoError as exc:
        if "exited" in str(exc):
            raise
        stop_process(cluster, name)
        raise DemoError(f"the operator did not start in {wait_seconds:.0f} s; see {log}") from exc
    return rec


def stop_process(cluster: LocalCluster, name: str, grace: float = 15.0) -> None:
    for rec in processes.recorded(cluster.state_dir):
        if rec.name == name:
            processes.stop(rec, cluster.state_dir, grace=grace)


def process_running(cluster: LocalCluster, name: str) -> bool:
    return any(r.name == name and processes.alive(r) for r in processes.recorded(cluster.state_dir))


# ---- the job ---------------------------------------------------------------------------------------


def job_manifest(
    namespace: str,
    name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    path: Path = JOB_MANIFEST,
) -> dict[str, Any]:
    """examples/translationjob.yaml in `namespace` (optionally renamed), with `overrides` merged into
    its spec (one level deep: e.g. {"checkpoint": {"interval": "1s"}})."""
    (body,) = [d for d in load_documents(path) if d.get("kind") == "TranslationJob"]
    body = copy.deepcopy(body)
    meta = body.setdefault("metadata", {})
    meta["namespace"] = namespace
    if name is not None:
        meta["name"] = name
    spec = body.setdefault("spec", {})
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    body.pop("status", None)
    return body


def example_namespace(path: Path = JOB_MANIFEST) -> str:
    (body,) = [d for d in load_documents(path) if d.get("kind") == "TranslationJob"]
    return str((body.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE)


def crate_dir(volumes: Volumes, job: Mapping[str, Any]) -> Path:
    """Where the worker publishes the crate: <output dir>/<output path>/<crate name>."""
    spec = job["spec"]
    sub = str(spec["output"]["persistentVolumeClaim"].get("path") or "/").strip("/")
    return (volumes.output_dir / sub if sub else volumes.output_dir) / str(spec["target"]["crateName"])


def read_job(clients: Clients, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return _to_dict(clients.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, JOBS, name))
    except Exception as exc:
        if _status(exc) == 404:
            return None
        raise


def worker_pods(clients: Clients, namespace: str, job_name: str) -> list[Any]:
    return list(clients.core.list_namespaced_pod(namespace, label_selector=f"{JOB_LABEL}={job_name}").items)


def delete_job(clients: Clients, namespace: str, name: str, timeout: float = 120.0) -> bool:
    """Delete the job and wait until it and its worker pods are gone; False when there was none."""
    existed = read_job(clients, namespace, name) is not None
    if existed:
        with contextlib.suppress(Exception):
            clients.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, JOBS, name, propagation_policy="Background"
            )
    wait_until(lambda: read_job(clients, namespace, name) is None, timeout, f"job {namespace}/{name} to go")
    # The garbage collector would delete the pods too, but it only watches a CRD's objects after its
    # next discovery resync (30 s) when the CRD is new, as it is on a fresh control plane.
    if worker_pods(clients, namespace, name):
        clients.core.delete_collection_namespaced_pod(namespace, label_selector=f"{JOB_LABEL}={name}")
    wait_until(
        lambda: not worker_pods(clients, namespace, name),
        timeout,
        f"the worker pods of {namespace}/{name} to go",
    )
    return existed


def create_job(clients: Clients, body: Mapping[str, Any]) -> dict[str, Any]:
    ns = body["metadata"]["namespace"]
    return _to_dict(clients.custom.create_namespaced_custom_object(GROUP, VERSION, ns, JOBS, dict(body)))


@dataclass(frozen=True)
class Snapshot:
    """What one progress line shows."""

    phase: str
    done: int | None
    failed: int | None
    total: int | None
    percent: int | None
    workers: int
    reclaims: int

    @classmethod
    def of(cls, job: Mapping[str, Any]) -> Snapshot:
        status = job.get("status") or {}
        progress = status.get("progress") or {}
        workers = status.get("activeWorkers")
        if workers is None:
            workers = sum(1 for w in status.get("workers") or () if w.get("phase") == "Running")
        return cls(
            phase=str(status.get("phase") or "Pending"),
            done=progress.get("unitsDone"),
            failed=progress.get("unitsFailed"),
            total=progress.get("unitsTotal"),
            percent=progress.get("percent"),
            workers=int(workers),
            reclaims=int((status.get("recoveries") or {}).get("reclaims") or 0),
        )

    def line(self, elapsed: float) -> str:
        units = "-" if self.total is None else f"{(self.done or 0) + (self.failed or 0)}/{self.total}"
        percent = "-" if self.percent is None else f"{self.percent}%"
        failed = f" ({self.failed} failed)" if self.failed else ""
        reclaims = f"  reclaims {self.reclaims}" if self.reclaims else ""
        return (
            f"[{elapsed:6.1f}s] {self.phase:<10} units {units:>9}{failed}  {percent:>4}  "
            f"workers {self.workers}{reclaims}"
        )


FINAL_PHASES = ("Succeeded", "Failed")


def follow_job(
    clients: Clients,
    namespace: str,
    name: str,
    *,
    timeout: float = 240.0,
    say: Say | None = print,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.5,
) -> dict[str, Any]:
    """Poll the job until Succeeded or Failed, calling `say` with a line whenever what it shows changes.

    `alive` (e.g. "the operator process still runs") is checked each poll: False ends the wait early.
    Returns the final job; DemoError on timeout or when `alive` turns False.
    """
    started = time.monotonic()
    last: Snapshot | None = None
    job: dict[str, Any] | None = None
    while True:
        job = read_job(clients, namespace, name)
        if job is None:
            raise DemoError(f"job {namespace}/{name} disappeared")
        snap = Snapshot.of(job)
        if snap != last and say is not None:
            say(snap.line(time.monotonic() - started))
        last = snap
        if snap.phase in FINAL_PHASES:
            return job
        if alive is not None and not alive():
            raise DemoError("the operator stopped while the job ran")
        if time.monotonic() - started > timeout:
            raise DemoError(f"job {namespace}/{name} not finished after {timeout:.0f} s (phase {snap.phase})")
        time.sleep(interval)


def condition_message(job: Mapping[str, Any], kind: str) -> str:
    for cond in (job.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return f"{cond.get('reason')}: {cond.get('message')}"
    return "(no condition)"


# ---- the crate ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    output: str
    seconds: float


def cargo_build(crate: Path, target_dir: Path | None = None, timeout: float = 300.0) -> BuildResult:
    """`cargo build --offline --quiet` in the crate (target dir elsewhere when given)."""
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(cargo).is_file():
        raise DemoError("cargo not found on PATH: install a Rust toolchain (rustup) to build the crate")
    argv = [cargo, "build", "--offline", "--quiet"]
    if target_dir is not None:
        argv.append(f"--target-dir={target_dir}")
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=crate, capture_output=True, text=True, timeout=timeout, check=False)
    return BuildResult(proc.returncode == 0, (proc.stdout + proc.stderr).strip(), time.monotonic() - started)


@dataclass(frozen=True)
class Report:
    files: int
    total: int
    translated: int
    failed: int
    failures: tuple[dict[str, Any], ...]

    @classmethod
    def read(cls, crate: Path) -> Report:
        data = json.loads((crate / "translation_report.json").read_text())
        units = data["units"]
        return cls(
            files=int(data.get("files", 0)),
            total=int(units["total"]),
            translated=int(units["translated"]),
            failed=int(units["failed"]),
            failures=tuple(data.get("failures") or ()),
        )


def tree_bytes(root: Path, skip: Iterable[str] = ("target", "Cargo.lock")) -> dict[str, bytes]:
    """Every file under `root` by relative path (top-level entries named in `skip` left out)."""
    skipped = set(skip)
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skipped or not path.is_file():
            continue
        out[rel.as_posix()] = path.read_bytes()
    return out


# ---- the whole demo ----------------------------------------------------------------------------------


def cost_line(job: Mapping[str, Any]) -> str:
    """The job's `status.cost` in one line: GPU-seconds by capacity type and the estimate from the pool's
    prices (the operator adds up each worker pod's run interval times its GPUs)."""
    cost = (job.get("status") or {}).get("cost") or {}
    spot, on_demand = float(cost.get("gpuSecondsSpot", 0.0)), float(cost.get("gpuSecondsOnDemand", 0.0))
    usd = cost.get("estimatedUSD")
    price = f", estimated ${float(usd):.4f}" if usd is not None else " (the pool has no prices)"
    return f"{spot:.1f} GPU-seconds on spot, {on_demand:.1f} on on-demand{price}"


@dataclass(frozen=True)
class DemoOptions:
    state_dir: Path
    nodes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_NODES))
    timeout: float = 240.0
    real_nodes: bool = False
    """Real kubelet nodes running the images (realpool.py, root) instead of the node agent's."""


def _check_prerequisites() -> None:
    for tool in ("rustc", "cargo"):
        if shutil.which(tool) is None:
            raise DemoError(
                f"{tool} not found on PATH: the workers check every translation with rustc and the demo "
                "builds the crate with cargo; install a Rust toolchain (rustup) first"
            )


@contextlib.contextmanager
def _step(say: Say, what: str) -> Iterator[None]:
    started = time.monotonic()
    say(f"==> {what}")
    yield
    say(f"    done in {time.monotonic() - started:.1f} s")


def run_demo(options: DemoOptions, say: Say = print) -> int:
    """The whole demo; returns the exit status (0: Succeeded and the crate builds)."""
    started = time.monotonic()
    _check_prerequisites()
    cluster = LocalCluster(options.state_dir)
    namespace = example_namespace()
    pool = example_pool_name()
    job = job_manifest(namespace)
    job_name = str(job["metadata"]["name"])
    work = cluster.state_dir / "demo"

    with _step(say, "control plane"):
        cluster.up(progress=lambda m: say(f"    {m}"))
    clients = Clients.of(cluster)
    with _step(say, "CRDs"):
        names = install_crds(clients)
        say(f"    established: {', '.join(names)}")
    counts = ", ".join(f"{k}={v}" for k, v in options.nodes.items())
    if options.real_nodes:
        from portalis_dev import realnode, realpool

        with _step(say, f"real kubelet nodes (pool {pool}: {counts})"):
            for real in realpool.start_pool(cluster, pool, options.nodes, progress=lambda m: say(f"    {m}")):
                say(f"    node {real.name} ({realnode.spec_of(real).capacity_type}, {real.ip})")
        node_type = realnode.NODE_TYPE
    else:
        with _step(say, f"node agent (pool {pool}: {counts})"):
            ensure_agent(cluster, pool, options.nodes)
            for node in agent_nodes(clients, pool):
                say(f"    node {node.metadata.name} ({node.metadata.labels.get(CAPACITY_TYPE_LABEL)})")
        node_type = NODE_TYPE
    with _step(say, f"GPUPool {pool}"):
        apply_pool(clients, pool_manifest(pool, node_type=node_type))
    with _step(say, f"namespace {namespace}, previous run"):
        ensure_namespace(clients, namespace)
        if delete_job(clients, namespace, job_name):
            say(f"    deleted the previous job {namespace}/{job_name}")
    volumes = volume_manifests(namespace, work, job)
    with _step(say, "source and output volumes"):
        root = prepare_source(source_root(volumes, job))
        wipe_directory(volumes.output_dir)
        if options.real_nodes:
            from portalis_dev import realpool

            output_path = str(job["spec"]["output"]["persistentVolumeClaim"].get("path") or "/")
            realpool.writable_by_workers(volumes.output_dir, output_path)
        n_files = sum(1 for _ in root.rglob("*.py"))
        say(f"    source: {n_files} Python files in {root}")
        apply_volumes(clients, volumes)
        say(f"    claims {volumes.source_claim} and {volumes.output_claim} Bound")
    with _step(say, "operator"):
        if options.real_nodes:
            from portalis_dev import realpool

            start_operator(cluster, pool, [namespace], extra_env=realpool.OPERATOR_ENV)
        else:
            start_operator(cluster, pool, [namespace])
        say(f"    running; log: {cluster.state_dir / 'logs' / (OPERATOR + '.log')}")

    spec = job["spec"]
    say(
        f"==> TranslationJob {namespace}/{job_name}: parallelism {spec.get('parallelism', 1)}, "
        f"backend {(spec.get('translation') or {}).get('backend', 'auto')}"
    )
    create_job(clients, job)
    final = follow_job(
        clients,
        namespace,
        job_name,
        timeout=options.timeout,
        alive=lambda: process_running(cluster, OPERATOR),
    )
    phase = Snapshot.of(final).phase
    crate = crate_dir(volumes, job)
    if phase != "Succeeded":
        say(f"job {phase}: {condition_message(final, phase)}")
        worker_logs = (
            f"kubectl logs -n {namespace} -l {JOB_LABEL}={job_name}"
            if options.real_nodes
            else str(cluster.state_dir / "agent" / "pods" / namespace)
        )
        say(
            f"logs: {cluster.state_dir / 'logs'} (operator, {agent_log_path(cluster, pool).name}); "
            f"worker logs: {worker_logs}"
        )
        return 1
    if not (crate / "translation_report.json").is_file():
        say(f"job Succeeded but no crate at {crate}")
        return 1

    report = Report.read(crate)
    build = cargo_build(crate, target_dir=work / "cargo-target")
    say("")
    say(f"Rust crate:  {crate}")
    say(
        f"translated:  {report.translated} of {report.total} units in {report.files} files, "
        f"{report.failed} failed"
    )
    for failure in report.failures[:10]:
        say(f"  failed  {failure.get('path')}: {failure.get('unit')} ({failure.get('reason')})")
    if len(report.failures) > 10:
        say(f"  ... {len(report.failures) - 10} more in {crate / 'TRANSLATION_REPORT.md'}")
    say(f"cost:        {cost_line(final)}")
    if build.ok:
        say(f"cargo build: ok ({build.seconds:.1f} s)")
    else:
        say(f"cargo build: FAILED\n{build.output[-4000:]}")
    say(f"total time:  {time.monotonic() - started:.1f} s")
    say(
        'look around: eval "$(.venv/bin/portalis-dev env)"; kubectl get tj -A; '
        "stop everything: .venv/bin/portalis-dev down"
    )
    return 0 if build.ok else 1


def main(
    state_dir: Path | None = None,
    timeout: float = 240.0,
    nodes: Mapping[str, int] | None = None,
    real_nodes: bool = False,
) -> int:
    options = DemoOptions(
        state_dir=state_dir or default_state_dir(),
        timeout=timeout,
        nodes=nodes or DEFAULT_NODES,
        real_nodes=real_nodes,
    )
    try:
        return run_demo(options)
    except DemoError as exc:
        print(f"portalis-dev demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nportalis-dev demo: interrupted; whatever started keeps running "
            "(`portalis-dev down` stops it all)",
            file=sys.stderr,
        )
        return 130
