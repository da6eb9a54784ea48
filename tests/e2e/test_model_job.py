"""End to end: `backend: auto` TranslationJobs whose worker pods run a real Triton sidecar (issue 12).

The operator builds the pod as for any cluster (manifests.build_worker_pod: the worker, and Triton as a
native sidecar serving the type model on localhost:8001); the node agent runs the sidecar's
`tritonserver` as the real server of the nvidia-pytriton wheel on CPU, serving the committed
`model_repo/typer` and the `embedder` (tests/e2e/triton_sidecar.py, through the agent's command map).
The source is untyped application code, so what the worker translates depends on the types the model
and the rules infer. Each module differs from the others in a constant of `render` and `mean` (not in
what inference reads), so that those two units miss the worker's exact cache and ask the model, file
after file.

- fault-free: the job Succeeds; the translation report and the ledger show types that came from the
  model (source `model`), and the crate builds;
- sidecar killed: the same job while the Triton process is SIGKILLed mid-run; the agent restarts it (a
  native sidecar, restartPolicy Always), the worker waits for it instead of failing or translating
  without the model, and the job Succeeds with no error retry, units committed after the kill still
  carry model types, and the crate is byte-identical to the fault-free one;
- translation memory: two jobs, one after the other, writing to the same output PVC: the second
  translates a later version of the source (each module's constants changed). Within the first job,
  `render` and `mean` of every module after the first are served from the memory (`types`: the
  types the first module's were accepted with, from the model); in the second, the units unchanged
  since the first job are served as `exact` matches and the changed ones as `types` matches from
  it; the reports and ledgers say which units came from the memory and from where, and both crates
  build. The other tests run with `spec.translation.memory: false`, so that every module asks the
  model as described above;
- unreachable: a sidecar that never serves (it exits at once): with `spec.model.fallback: none` the job
  fails, its Failed condition naming exit code 6 and the model server; with `fallback: rules` it
  Succeeds with the rules' types alone, and its report and ledger mark those units' types as found
  without the model (`"model": "unavailable"`).

Always on agent nodes of its own, whatever PORTALIS_E2E_NODES says: on real kubelet nodes the sidecar
would run from the Triton image, and the CPU Triton image is not built here (docs/install.md). The
agent's pods share the host's network: the sidecar listens on the pod's fixed ports (8000-8002), which
must be free, and each job runs one shard so that one server at a time holds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import wait_for
from portalis_dev import demo
from portalis_dev.agent.managed import start_agent, stop_agent
from portalis_dev.cluster import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)")
pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")

from portalis_worker.model.serving import TritonDistribution  # noqa: E402
from portalis_worker.model.serving import TritonUnavailableError as ServerMissing  # noqa: E402

try:
    TritonDistribution.find()
except ServerMissing as exc:
    pytest.skip(f"{exc} (the 'serving' extra)", allow_module_level=True)

SIDECAR = Path(__file__).with_name("triton_sidecar.py")
SIDECAR_PORTS = (8000, 8001, 8002)  # manifests._triton_sidecar: http, grpc, metrics
NODES = {"spot": 1, "on-demand": 1}
MODULES = int(os.environ.get("PORTALIS_E2E_MODEL_MODULES", "40"))
JOB_TIMEOUT = 600.0
MODEL_WAIT_SECONDS = 300  # a restarted sidecar loads torch and NeMo again: on 2 busy cores, a minute or more

UNTYPED = '''"""Untyped helpers, as application code is written: no annotations anywhere."""


def render(template, values, strict=False):
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    if strict and "{" in out:
        raise ValueError("unfilled (form MODULE): " + out)
    return out


def mean(xs):
    return sum(xs) / len(xs) if xs else MODULE.5


def lookup(table, name, default=None):
    return table.get(name, default)


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value
'''


@dataclass
class Env:
    cluster: LocalCluster
    clients: demo.Clients
    namespace: str
    volumes: demo.Volumes
    jobs: list[dict[str, Any]]

    def crate(self, job: Mapping[str, Any]) -> Path:
        return demo.crate_dir(self.volumes, job)


@dataclass
class Outcome:
    job: dict[str, Any]
    report: dict[str, Any] | None
    files: dict[str, bytes]
    ledger: list[dict[str, Any]]

    @property
    def phase(self) -> str:
        return demo.Snapshot.of(self.job).phase

    def model_typed(self, records: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        """`function.slot` -> its type record, for the slots whose type came from the model."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.ledger if records is None else records:
            for slot, t in (r.get("types") or {}).items():
                if t.get("source") == "model":
                    out[f"{r['path']}:{slot}"] = t
        return out


def job_body(
    namespace: str, name: str, *, fallback: str = "none", memory: bool = False, source: str | None = None
) -> dict[str, Any]:
    """One shard, backend auto, its own output path and crate; no error retry (a failure is final).
    `source`: the path on the source PVC (default: the example's)."""
    job = demo.job_manifest(
        namespace,
        name=name,
        overrides={
            "translation": {"backend": "auto", "memory": memory},
            "model": {"fallback": fallback},
            "parallelism": 1,
            "checkpoint": {"interval": "1s"},
            "recovery": {"maxErrorRetries": 0, "backoffSeconds": 1},
            "target": {"crateName": name.replace("-", "_"), "edition": "2021"},
        },
    )
    job["spec"]["output"]["persistentVolumeClaim"]["path"] = f"/{name}"
    if source is not None:
        job["spec"]["source"]["persistentVolumeClaim"]["path"] = source
    return job


def write_source(root: Path, modules: int = MODULES, version: int = 0) -> None:
    """`modules` modules of UNTYPED; `version` shifts the constants of `render` and `mean`."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    for i in range(modules):
        (root / "app" / f"text{i:02d}.py").write_text(UNTYPED.replace("MODULE", str(i + 100 * version)))


def ports_free() -> list[int]:
    busy = []
    for port in SIDECAR_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


@contextlib.contextmanager
def model_env(
    cluster: LocalCluster, namespace: str, jobs: list[dict[str, Any]], sidecar: str, wait_seconds: int
) -> Iterator[Env]:
    """Agent nodes whose `tritonserver` is `sidecar`, a GPUPool, volumes, the untyped source, an operator."""
    busy = ports_free()
    assert not busy, f"ports {busy} are in use: the agent's sidecars listen on the pod's fixed ports"
    clients = demo.Clients.of(cluster)
    demo.install_crds(clients)
    work = cluster.state_dir / "e2e" / namespace
    volumes = demo.volume_manifests(namespace, work, jobs[0])
    operator = f"operator-{namespace}"
    env = {**os.environ, "PORTALIS_METRICS_PORT": "0", "PORTALIS_MODEL_WAIT_SECONDS": str(wait_seconds)}
    try:
        start_agent(
            cluster,
            nodes=NODES,
            pool=namespace,
            env=env,
            command_map={"tritonserver": sidecar},
            delete_nodes_on_exit=True,
        )
        demo.apply_pool(clients, demo.pool_manifest(namespace))
        write_source(demo.source_root(volumes, jobs[0]))
        demo.wipe_directory(volumes.output_dir)
        demo.apply_volumes(clients, volumes)
        demo.start_operator(cluster, namespace, [namespace], name=operator)
        yield Env(cluster, clients, namespace, volumes, jobs)
    finally:
        demo.stop_process(cluster, operator)
        stop_agent(cluster, pool=namespace)
        with contextlib.suppress(Exception):
            clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)
        demo.delete_volumes(clients, volumes)
        shutil.rmtree(work, ignore_errors=True)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Valid records of a ledger or memory file (format: docs/worker.md), read independently of the
    worker."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        crc, _, body = line.partition(b" ")
        if re.fullmatch(rb"[0-9a-f]{8}", crc) and int(crc, 16) == zlib.crc32(body):
            out.append(json.loads(body))
    return out


def read_ledger(ledger_dir: Path) -> list[dict[str, Any]]:
    """Valid unit records of shard-0.ledger."""
    return [r for r in read_records(ledger_dir / "shard-0.ledger") if r.get("kind") == "unit"]


def finish(env: Env, job: Mapping[str, Any]) -> Outcome:
    name = job["metadata"]["name"]
    final = demo.follow_job(
        env.clients,
        env.namespace,
        name,
        timeout=JOB_TIMEOUT,
        say=lambda line: print(f"[{env.namespace}/{name}] {line}"),
        alive=lambda: demo.process_running(env.cluster, f"operator-{env.namespace}"),
    )
    crate = env.crate(job)
    ledger = read_ledger(crate.parent / ".portalis" / "ledger")
    if demo.Snapshot.of(final).phase != "Succeeded":
        return Outcome(final, None, {}, ledger)
    report_path = crate / "translation_report.json"
    files = wait_for(
        lambda: demo.tree_bytes(crate) if report_path.is_file() else None,
        timeout=30,
        what=f"the crate {crate}",
    )
    return Outcome(final, json.loads(report_path.read_text()), files, ledger)


def report_types(report: Mapping[str, Any]) -> dict[str, str]:
    """`path:function.slot` -> source, from the translation report's unit states."""
    return {
        f"{u['path']}:{slot}": t["source"]
        for u in report["unit_states"]
        for slot, t in (u.get("types") or {}).items()
    }


def python() -> str:
    return f"{sys.executable} {SIDECAR}"


# ---- the tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_free(cluster: LocalCluster) -> Outcome:
    clients = demo.Clients.of(cluster)
    namespace = f"e2e-model-{os.urandom(3).hex()}"
    demo.ensure_namespace(clients, namespace, {"portalis.dev/test": "true"})
    job = job_body(namespace, "untyped")
    try:
        with model_env(cluster, namespace, [job], python(), MODEL_WAIT_SECONDS) as env:
            demo.create_job(env.clients, job)
            return finish(env, job)
    finally:
        clients.core.delete_namespace(namespace)


def test_an_auto_job_translates_untyped_code_with_the_served_type_model(fault_free: Outcome) -> None:
    assert fault_free.phase == "Succeeded", demo.condition_message(fault_free.job, "Failed")
    report = fault_free.report
    assert report is not None
    assert report["units"]["total"] == 4 * MODULES
    assert report["units"]["translated"] >= 3 * MODULES, report["failures"]
    sources = report_types(report)
    # render(template, ...): nothing in the body says what `template` is; the model reads it as str
    model_typed = {k for k, s in sources.items() if s == "model"}
    assert {f"app/text{i:02d}.py:render.template" for i in range(MODULES)} <= model_typed, sources
    assert set(sources.values()) >= {"model", "usage"}
    # the ledger says the same, with the type and the model's score
    ledger_model = fault_free.model_typed()
    assert ledger_model.keys() == model_typed
    assert ledger_model["app/text00.py:render.template"]["type"] == "str"
    assert "Inferred types" in fault_free.files["TRANSLATION_REPORT.md"].decode()
    result = fault_free.job["status"]["result"]
    assert result["crate"]["builds"] is True
    recoveries = fault_free.job["status"].get("recoveries") or {}
    assert not recoveries.get("errorRetries")
    assert not recoveries.get("reclaims")


def _sidecar_pid(pod: Any) -> int | None:
    for cs in pod.status.init_container_statuses or ():
        if cs.name == "triton" and cs.state and cs.state.running and cs.container_id:
            ident = cs.container_id.rsplit("://", 1)[-1]
            return int(ident) if ident.isdigit() else None
    return None


def _restarts(pod: Any) -> int:
    return max(
        (cs.restart_count or 0 for cs in pod.status.init_container_statuses or () if cs.name == "triton"),
        default=0,
    )


def _progress(pod: Any) -> dict[str, Any] | None:
    raw = (pod.metadata.annotations or {}).get("portalis.dev/progress")
    return dict(json.loads(raw)) if raw else None


def test_killing_the_sidecar_mid_run_is_waited_out_and_changes_no_byte(
    cluster: LocalCluster, namespace: str, fault_free: Outcome
) -> None:
    assert fault_free.phase == "Succeeded", "the fault-free reference run failed"
    job = job_body(namespace, "untyped")
    with model_env(cluster, namespace, [job], python(), MODEL_WAIT_SECONDS) as env:
        demo.create_job(env.clients, job)

        def mid_run() -> tuple[Any, int] | None:
            for pod in demo.worker_pods(env.clients, namespace, "untyped"):
                report, pid = _progress(pod), _sidecar_pid(pod)
                if report and pid and 0 < report["unitsDone"] + report["unitsFailed"] < report["unitsTotal"]:
                    return pod, pid
            return None

        pod, pid = wait_for(mid_run, timeout=300, interval=0.1, what="a worker with partial progress")
        print(f"[{namespace}] SIGKILL tritonserver (pid {pid}) at {_progress(pod)}")
        os.kill(pid, signal.SIGKILL)
        ledger_dir = env.crate(job).parent / ".portalis" / "ledger"
        committed = {r["id"] for r in read_ledger(ledger_dir)}
        wait_for(
            lambda: any(_restarts(p) >= 1 for p in demo.worker_pods(env.clients, namespace, "untyped")),
            timeout=120,
            what="the agent to restart the killed sidecar",
        )
        outcome = finish(env, job)

    assert outcome.phase == "Succeeded", demo.condition_message(outcome.job, "Failed")
    recoveries = outcome.job["status"].get("recoveries") or {}
    assert not recoveries.get("errorRetries"), "the worker failed instead of waiting for its sidecar"
    after = [r for r in outcome.ledger if r["id"] not in committed]
    assert after, "the job finished before the kill took effect: nothing was tested"
    assert outcome.model_typed(after), "units translated after the restart got no model types"
    assert len({r["id"] for r in outcome.ledger}) == len(outcome.ledger), "a unit was translated twice"
    assert sorted(outcome.files) == sorted(fault_free.files)
    differing = [p for p in outcome.files if outcome.files[p] != fault_free.files[p]]
    assert not differing, f"files differ from the fault-free crate: {differing}"


MEMORY_MODULES = 6


def memory_served(outcome: Outcome) -> dict[str, dict[str, Any]]:
    """`path:unit` -> the memory's match, from the translation report's unit states."""
    assert outcome.report is not None
    return {f"{u['path']}:{u['unit']}": u["memory"] for u in outcome.report["unit_states"] if u.get("memory")}


def test_the_translation_memory_serves_near_duplicates_and_the_report_says_which(
    cluster: LocalCluster, namespace: str
) -> None:
    first = job_body(namespace, "release-1", memory=True, source="/v1")
    second = job_body(namespace, "release-2", memory=True, source="/v2")
    with model_env(cluster, namespace, [first, second], python(), MODEL_WAIT_SECONDS) as env:
        write_source(demo.source_root(env.volumes, first), MEMORY_MODULES, version=0)
        write_source(demo.source_root(env.volumes, second), MEMORY_MODULES, version=1)
        demo.create_job(env.clients, first)
        one = finish(env, first)
        assert one.phase == "Succeeded", demo.condition_message(one.job, "Failed")
        memory_dir = env.volumes.output_dir / ".portalis" / "memory"
        (written,) = memory_dir.glob("*.mem")  # the first job left its memory on the PVC
        first_translator = {r["translator"] for r in read_records(written)}
        first_memory = {written.name: written.stat().st_size}
        demo.create_job(env.clients, second)
        two = finish(env, second)
        pins = read_records(env.crate(second).parent / ".portalis" / "ledger" / "shard-0.ledger")
        (pin,) = [r for r in pins if r["kind"] == "memory"]
    assert two.phase == "Succeeded", demo.condition_message(two.job, "Failed")
    assert one.report is not None
    assert two.report is not None

    # within the first job: near-duplicates of the first module's render and mean, with its model types
    served = memory_served(one)
    later = {f"app/text{i:02d}.py:{u}" for i in range(1, MEMORY_MODULES) for u in ("render", "mean")}
    assert later <= served.keys(), served
    assert {served[k]["match"] for k in later} == {"types"}
    assert all(served[k]["job"] == f"{namespace}/release-1" for k in later)
    assert report_types(one.report)["app/text03.py:render.template"] == "model"
    ledger = {f"{r['path']}:{r['name']}": r for r in one.ledger}
    assert all(ledger[k]["backend"] == "memory" and ledger[k]["memory"] == served[k] for k in later)

    # across jobs: the second release's unchanged units are exact matches, its changed ones near ones
    assert pin["files"] == first_memory, "the second job read the first one's memory"
    if first_translator != {pin["translator"]}:
        # The agent runs the workers from this checkout: an edit of the worker's code between the jobs
        # makes the second a different translator, which rightly ignores the first one's memory.
        pytest.skip("the worker's code changed between the jobs; the cross-job half needs a quiet checkout")
    served = memory_served(two)
    verdicts = {f"{u['path']}:{u['unit']}": u["state"] for u in one.report["unit_states"]}
    for unit in ("app/text00.py:lookup", "app/text00.py:clamp"):
        if verdicts[unit] in ("mismatch", "failed"):  # CPython disagreed with it, or nothing to store
            assert unit not in served, served
        else:
            assert served[unit]["match"] == "exact", served
    assert served["app/text00.py:render"]["match"] == "types"
    assert served["app/text00.py:render"]["job"] == f"{namespace}/release-1"
    assert two.report["memory"]["served"] == len(served) >= 2 * MEMORY_MODULES + 1
    assert "## Translation memory" in two.files["TRANSLATION_REPORT.md"].decode()
    assert f"{namespace}/release-1" in two.files["TRANSLATION_REPORT.md"].decode()
    for outcome, report in ((one, one.report), (two, two.report)):
        assert report["units"]["translated"] >= 3 * MEMORY_MODULES, report["failures"]
        assert outcome.job["status"]["result"]["crate"]["builds"] is True
    # a `types` match is this unit's own code translated, not the near-duplicate's Rust
    assert "101.5" in two.files["src/app/text01.rs"].decode()


def test_an_unreachable_model_server_fails_the_job_saying_so_or_falls_back_to_rules(
    cluster: LocalCluster, namespace: str
) -> None:
    strict = job_body(namespace, "no-server")
    lenient = job_body(namespace, "no-server-rules", fallback="rules")
    dead = shutil.which("false") or "/bin/false"  # a sidecar that exits at once, every time
    with model_env(cluster, namespace, [strict, lenient], dead, wait_seconds=5) as env:
        demo.create_job(env.clients, strict)
        demo.create_job(env.clients, lenient)
        failed = finish(env, strict)
        fell_back = finish(env, lenient)

    assert failed.phase == "Failed"
    message = demo.condition_message(failed.job, "Failed")
    assert "exit code 6: the model server (the pod's Triton sidecar) did not answer" in message, message
    assert "spec.model.fallback: rules" in message
    assert not failed.ledger, "no unit may be translated without the model the job asked for"

    assert fell_back.phase == "Succeeded", demo.condition_message(fell_back.job, "Failed")
    assert fell_back.report is not None
    sources = set(report_types(fell_back.report).values())
    assert sources, "the rules inferred no types"
    assert "model" not in sources
    # the report and the ledger say that these types were found without the model the job asked for
    typed = [u for u in fell_back.report["unit_states"] if u.get("types")]
    assert typed
    assert all(u.get("model") == "unavailable" for u in typed)
    assert all(r.get("model") == "unavailable" for r in fell_back.ledger if r.get("types"))
