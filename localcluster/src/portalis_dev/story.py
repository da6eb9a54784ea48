"""`portalis-dev demo` (the story): what the operator exists for, in about two minutes, each step checked.

1. a normal job starts on spot;
2. a critical job arrives and preempts it: the victim checkpoints (its ledgers keep what it did) and
   requeues;
3. the pool scales out within its bounds, keeping about 75% spot;
4. the normal job is admitted again and resumes from its ledgers;
5. a spot node under a running worker with partial progress is reclaimed (the Node deleted: the agent
   kills its processes at once); the operator recreates the worker, which resumes from its ledger;
6. both jobs succeed, nothing committed to a ledger before the preemption or the reclaim was redone, and
   both crates build with cargo;
7. the cost of each job, and the events a platform team would see.

Any step that does not happen within its time raises StoryError naming it. The pool's nodes are served
by the node agent in machine mode (agent/machines.py): the GPUPool uses the operator's clusterAPI
provider, whose MachineDeployments the agent turns into nodes that run pods, so the scale-out is real.
`run_story` is what `make demo` runs and what tests/e2e/test_story_demo.py checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import sys
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portalis_dev import demo
from portalis_dev.agent import machines as capi
from portalis_dev.agent import start_agent, stop_agent
from portalis_dev.agent.nodes import NODE_TYPE
from portalis_dev.cluster import LocalCluster
from portalis_dev.nodes import CAPACITY_TYPE_LABEL, POOL_LABEL

Say = Callable[[str], None]

NAMESPACE = "portalis-story"
NORMAL, CRITICAL = "normal-job", "critical-job"
SPOT_MD, ON_DEMAND_MD = "spot", "on-demand"
START_NODES = {"spot": 2, "on-demand": 1}
MAX_NODES = 4
PROGRESS_ANNOTATION = "portalis.dev/progress"
OPERATOR_ENV = {
    # The critical job may preempt at once: in production a victim runs at least 5 minutes first.
    "PORTALIS_OPERATOR_PREEMPTION_MIN_RUNTIME_SECONDS": "0",
    "PORTALIS_OPERATOR_RESYNC_SECONDS": "1",
}


class StoryError(demo.DemoError):
    """A step of the story did not happen; the message names it."""


@dataclass(frozen=True)
class StoryOptions:
    state_dir: Path
    namespace: str = NAMESPACE
    pool: str = "story"
    normal_copies: int = 2
    """Copies of the sample project the normal job translates (long enough to be preempted and reclaimed)."""
    critical_copies: int = 1
    step_timeout: float = 180.0
    finish_timeout: float = 600.0
    """For the jobs to succeed after the reclaim (each worker's differential check and crate build)."""


@dataclass
class Step:
    title: str
    at: float
    """Seconds since the story's first job was created."""
    detail: str = ""


@dataclass
class StoryResult:
    steps: list[Step] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, demo.Report] = field(default_factory=dict)
    builds: dict[str, demo.BuildResult] = field(default_factory=dict)
    pool: dict[str, Any] = field(default_factory=dict)
    started_on: list[str] = field(default_factory=list)
    """Capacity types of the normal job's workers at step 1."""
    preempted_committed: dict[str, set[str]] = field(default_factory=dict)
    """The normal job's ledger units (by shard file) once its evicted workers were gone."""
    reclaimed_node: str = ""
    reclaimed_job: str = ""
    reclaim_committed: dict[str, set[str]] = field(default_factory=dict)
    """The reclaimed job's ledger units right after the kill."""
    redone: dict[str, list[str]] = field(default_factory=dict)
    """Per job: ledger units committed before an interruption and recorded again (must be empty)."""
    events: list[str] = field(default_factory=list)
    alerts: list[AlertWatch] = field(default_factory=list)
    seconds: float = 0.0


# ---- manifests ----------------------------------------------------------------------------------------


def pool_manifest(pool: str, namespace: str) -> dict[str, Any]:
    """examples/gpupool.yaml as the story's pool: clusterAPI provider (the agent serves its machines),
    at most MAX_NODES nodes, and scale-up timings short enough for a two-minute story."""
    body = demo.pool_manifest(pool)
    spec = body["spec"]
    spec["provider"] = {
        "type": "clusterAPI",
        "clusterAPI": {
            "namespace": namespace,
            "spotMachineDeployment": SPOT_MD,
            "onDemandMachineDeployment": ON_DEMAND_MD,
        },
    }
    spec["nodes"] = {"min": 1, "max": MAX_NODES}
    spec["scaleUp"] = {"step": 2, "delaySeconds": 2, "cooldownSeconds": 10}
    spec["scaleDown"] = {"step": 1, "idleSeconds": 3600, "cooldownSeconds": 300}
    return body


def job_manifests(namespace: str) -> dict[str, dict[str, Any]]:
    """The two jobs: two 8-GPU shards each (a shard fills a DGX node). The normal one prefers spot; the
    critical one accepts spot too (a critical job defaults to on-demand only), so it can take the
    normal job's nodes."""
    common = {
        "parallelism": 2,
        "gpusPerWorker": 8,
        "checkpoint": {"interval": "1s"},
        "recovery": {"maxReclaims": 10, "onDemandAfterReclaims": 3},
    }
    out = {}
    for name, priority in ((NORMAL, "normal"), (CRITICAL, "critical")):
        overrides = {
            **common,
            "priority": priority,
            "capacity": {"spot": "preferred"},
        }
        job = demo.job_manifest(namespace, name=name, overrides=overrides)
        job["spec"]["source"]["persistentVolumeClaim"]["path"] = f"/{name}"
        job["spec"]["output"]["persistentVolumeClaim"]["path"] = f"/{name}-crate"
        out[name] = job
    return out


def crate_of(options: StoryOptions, name: str) -> Path:
    """Where job `name` of a story played with `options` publishes its crate (ledgers beside it)."""
    jobs = job_manifests(options.namespace)
    volumes = demo.volume_manifests(options.namespace, work_dir(options), jobs[name])
    return demo.crate_dir(volumes, jobs[name])


def work_dir(options: StoryOptions) -> Path:
    return options.state_dir / "story" / options.namespace


def ledger_dir_of(options: StoryOptions, name: str) -> Path:
    return crate_of(options, name).parent / ".portalis" / "ledger"


# ---- reading state ------------------------------------------------------------------------------------


def read_ledgers(ledger_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Valid records of every shard-<i>.ledger (docs/worker.md): complete lines whose crc32 matches."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(ledger_dir.glob("shard-*.ledger")):
        records: list[dict[str, Any]] = []
        for line in path.read_bytes().split(b"\n")[:-1]:
            crc, _, body = line.partition(b" ")
            if re.fullmatch(rb"[0-9a-f]{8}", crc) and int(crc, 16) == zlib.crc32(body):
                records.append(json.loads(body))
        out[path.name] = records
    return out


def committed_units(ledger_dir: Path) -> dict[str, set[str]]:
    return {
        shard: {str(r["id"]) for r in recs if r.get("kind") == "unit"}
        for shard, recs in read_ledgers(ledger_dir).items()
    }


def redone_units(ledger_dir: Path, before: Sequence[Mapping[str, set[str]]]) -> list[str]:
    """`shard:unit` recorded more than once although committed at one of the `before` snapshots."""
    counts = Counter(
        (shard, str(r["id"]))
        for shard, recs in read_ledgers(ledger_dir).items()
        for r in recs
        if r.get("kind") == "unit"
    )
    redone = set()
    for snapshot in before:
        for shard, units in snapshot.items():
            redone |= {f"{shard}:{u}" for u in units if counts[(shard, u)] > 1}
    return sorted(redone)


def _progress(pod: Any) -> dict[str, Any] | None:
    raw = (pod.metadata.annotations or {}).get(PROGRESS_ANNOTATION)
    try:
        return dict(json.loads(raw)) if raw else None
    except ValueError:
        return None


def _running(pod: Any) -> bool:
    return pod.metadata.deletion_timestamp is None and any(
        cs.name == "worker" and cs.state and cs.state.running
        for cs in (pod.status.container_statuses or ())
        if pod.status
    )


def _pid(pod: Any) -> int | None:
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


def _cond(job: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or () if c.get("type") == kind), None)


def _true(job: Mapping[str, Any], kind: str) -> bool:
    cond = _cond(job, kind)
    return cond is not None and cond.get("status") == "True"


def worker_types(job: Mapping[str, Any]) -> list[str]:
    """Capacity types of the job's running workers."""
    return [
        str(w.get("capacityType"))
        for w in (job.get("status") or {}).get("workers") or ()
        if w.get("phase") == "Running"
    ]


def reclaims(job: Mapping[str, Any]) -> int:
    return int(((job.get("status") or {}).get("recoveries") or {}).get("reclaims") or 0)


def pool_counts(pool: Mapping[str, Any]) -> tuple[int, int]:
    nodes = (pool.get("status") or {}).get("nodes") or {}
    return int(nodes.get("spot") or 0), int(nodes.get("onDemand") or 0)


# ---- the watcher: prints what changes, waits on what must happen ------------------------------------


class Watcher:
    def __init__(self, story: Story) -> None:
        self.s = story
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pool: dict[str, Any] = {}
        self._last: dict[str, str] = {}

    def poll(self) -> None:
        s = self.s
        for name in (NORMAL, CRITICAL):
            job = demo.read_job(s.clients, s.namespace, name)
            if job is None:
                continue
            self.jobs[name] = job
            snap = demo.Snapshot.of(job)
            units = "-" if snap.total is None else f"{(snap.done or 0) + (snap.failed or 0)}/{snap.total}"
            types = ",".join(worker_types(job)) or "-"
            reclaims = f"  reclaims {snap.reclaims}" if snap.reclaims else ""
            tenth = None if snap.total is None else ((snap.done or 0) + (snap.failed or 0)) * 10 // snap.total
            self._show(
                name,
                f"{name:<13} {snap.phase:<10} units {units:>9}  workers on {types}{reclaims}",
                (snap.phase, types, snap.reclaims, tenth),
            )
        with contextlib.suppress(Exception):
            self.pool = demo._to_dict(
                s.clients.custom.get_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, s.pool)
            )
        if self.pool:
            spot, od = pool_counts(self.pool)
            gpus = (self.pool.get("status") or {}).get("gpus") or {}
            self._show(
                "pool",
                f"pool {s.pool:<8} {spot} spot + {od} on-demand Ready, GPUs used "
                f"{gpus.get('used', 0)}/{gpus.get('total', 0)}",
            )

    def _show(self, key: str, line: str, change: object = None) -> None:
        """Print `line` when what it shows changed (`change`: the part that counts, default the line)."""
        seen = repr(line if change is None else change)
        if self._last.get(key) != seen:
            self._last[key] = seen
            self.s.say(f"    [{self.s.clock():6.1f}s] {line}")

    def until(self, predicate: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
        s = self.s
        deadline = time.monotonic() + (timeout or s.options.step_timeout)
        while True:
            self.poll()
            value = predicate()
            if value:
                return value
            for name, job in self.jobs.items():
                if demo.Snapshot.of(job).phase == "Failed":
                    raise StoryError(f"{what}: job {name} Failed ({demo.condition_message(job, 'Failed')})")
            if not demo.process_running(s.cluster, s.operator):
                raise StoryError(f"{what}: the operator stopped (log: {s.operator_log})")
            if time.monotonic() > deadline:
                limit = timeout or s.options.step_timeout
                raise StoryError(f"step did not happen within {limit:.0f} s: {what}")
            time.sleep(0.25)


# ---- the story ----------------------------------------------------------------------------------------


class Story:
    def __init__(self, cluster: LocalCluster, options: StoryOptions, say: Say) -> None:
        self.cluster = cluster
        self.options = options
        self.say = say
        self.namespace = options.namespace
        self.pool = options.pool
        self.operator = f"operator-{options.namespace}"
        self.operator_log = cluster.state_dir / "logs" / f"{self.operator}.log"
        self.clients = demo.Clients.of(cluster)
        self.jobs = job_manifests(self.namespace)
        self.work = work_dir(options)
        self.volumes = demo.volume_manifests(self.namespace, self.work, self.jobs[NORMAL])
        self.result = StoryResult()
        self.metrics_port = free_port()
        self._t0 = time.monotonic()
        self.watch = Watcher(self)

    def clock(self) -> float:
        return time.monotonic() - self._t0

    def step(self, title: str, detail: str = "") -> None:
        self.result.steps.append(Step(title, self.clock(), detail))
        self.say(f"==> [{self.clock():6.1f}s] {title}" + (f": {detail}" if detail else ""))

    def crate(self, name: str) -> Path:
        return demo.crate_dir(self.volumes, self.jobs[name])

    def ledger_dir(self, name: str) -> Path:
        return self.crate(name).parent / ".portalis" / "ledger"

    def pods(self, name: str) -> list[Any]:
        return demo.worker_pods(self.clients, self.namespace, name)

    def node_types(self) -> dict[str, str]:
        return {
            n.metadata.name: n.metadata.labels.get(CAPACITY_TYPE_LABEL, "")
            for n in self.clients.core.list_node(label_selector=f"{POOL_LABEL}={self.pool}").items
        }

    # ---- set-up ----

    def set_up(self) -> None:
        c, ns = self.clients, self.namespace
        demo.install_crds(c)
        demo.install_crds(c, paths=[capi.CRDS])
        demo.ensure_namespace(c, ns)
        for name in self.jobs:
            demo.delete_job(c, ns, name)  # a previous run's
        demo.stop_process(self.cluster, self.operator)
        stop_agent(self.cluster, pool=self.pool)
        with contextlib.suppress(Exception):
            c.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, self.pool)
        for plural in (capi.MACHINES, capi.MACHINE_DEPLOYMENTS):
            with contextlib.suppress(Exception):
                c.custom.delete_collection_namespaced_custom_object(capi.GROUP, capi.VERSION, ns, plural)
        for node in c.core.list_node(label_selector=f"{POOL_LABEL}={self.pool}").items:
            with contextlib.suppress(Exception):
                c.core.delete_node(node.metadata.name)
        demo.wait_until(
            lambda: not c.core.list_node(label_selector=f"{POOL_LABEL}={self.pool}").items,
            60,
            f"the previous nodes of pool {self.pool} to go",
        )
        for capacity_type, md in ((("spot", SPOT_MD)), ("on-demand", ON_DEMAND_MD)):
            c.custom.create_namespaced_custom_object(
                capi.GROUP,
                capi.VERSION,
                ns,
                capi.MACHINE_DEPLOYMENTS,
                capi.machine_deployment(ns, md, self.pool, START_NODES[capacity_type]),
            )
        start_agent(
            self.cluster,
            nodes={},
            pool=self.pool,
            env={**os.environ, "PORTALIS_METRICS_PORT": "0"},
            machine_namespace=ns,
            machine_deployments={"spot": SPOT_MD, "on-demand": ON_DEMAND_MD},
            delete_nodes_on_exit=True,
        )
        demo.wait_until(
            lambda: (
                len(c.core.list_node(label_selector=f"{POOL_LABEL}={self.pool},type={NODE_TYPE}").items)
                == sum(START_NODES.values())
            ),
            60,
            "the agent's first machines to become nodes",
        )
        demo.apply_pool(c, pool_manifest(self.pool, ns))
        for name, copies in ((NORMAL, self.options.normal_copies), (CRITICAL, self.options.critical_copies)):
            demo.prepare_source(demo.source_root(self.volumes, self.jobs[name]), copies=copies)
        demo.wipe_directory(self.volumes.output_dir)
        demo.apply_volumes(c, self.volumes)
        env = {**OPERATOR_ENV, "PORTALIS_OPERATOR_METRICS_PORT": str(self.metrics_port)}
        demo.start_operator(self.cluster, self.pool, [ns], name=self.operator, extra_env=env)

    # ---- the steps ----

    def run(self) -> StoryResult:
        w, r = self.watch, self.result
        self._t0 = time.monotonic()
        demo.create_job(self.clients, self.jobs[NORMAL])
        self.say(f"    created {self.namespace}/{NORMAL}: priority normal, 2 shards x 8 GPUs, spot preferred")

        def normal_on_spot() -> bool:
            job = w.jobs.get(NORMAL) or {}
            types = worker_types(job)
            done = (demo.Snapshot.of(job).done or 0) if job else 0
            return len(types) == 2 and set(types) == {"spot"} and done > 0

        w.until(normal_on_spot, "the normal job running on spot nodes with progress")
        r.started_on = worker_types(w.jobs[NORMAL])
        self.step("1. a normal job starts on spot", "both workers on spot nodes, units being committed")

        demo.create_job(self.clients, self.jobs[CRITICAL])
        self.say(f"    created {self.namespace}/{CRITICAL}: priority critical, 2 shards x 8 GPUs")
        w.until(
            lambda: _true(w.jobs.get(NORMAL) or {}, "Preempted"), "the critical job preempting the normal one"
        )
        preempted = _cond(w.jobs[NORMAL], "Preempted") or {}
        w.until(lambda: not self.pods(NORMAL), "the evicted workers of the normal job to be gone")
        r.preempted_committed = committed_units(self.ledger_dir(NORMAL))
        saved = sum(len(u) for u in r.preempted_committed.values())
        if saved == 0:
            raise StoryError("the preempted job checkpointed nothing: its ledgers are empty")
        w.until(
            lambda: (
                demo.Snapshot.of(w.jobs[NORMAL]).phase in ("Queued", "Pending", "Admitted", "Running")
                and not _true(w.jobs[NORMAL], "Preempted")
            ),
            "the preempted job back in the queue",
        )
        w.until(lambda: len(worker_types(w.jobs.get(CRITICAL) or {})) == 2, "the critical job running")
        self.step(
            "2. a critical job arrives and preempts it",
            f"{preempted.get('message')}; the victim checkpointed {saved} units in its ledgers and requeued",
        )

        def scaled() -> bool:
            spot, od = pool_counts(w.pool)
            return spot + od == MAX_NODES

        w.until(scaled, f"the pool scaling out to {MAX_NODES} nodes")
        spot, od = pool_counts(w.pool)
        if spot + od > MAX_NODES or od < 1 or abs(spot / (spot + od) - 0.75) > 0.13:
            raise StoryError(f"the pool scaled to {spot} spot + {od} on-demand: not ~75% spot within bounds")
        status = w.pool.get("status") or {}
        self.step(
            "3. the pool scales out within its bounds",
            f"{spot} spot + {od} on-demand = {100 * spot // (spot + od)}% spot (bounds 1..{MAX_NODES}); "
            f"{status.get('lastScaleReason')}",
        )

        w.until(lambda: len(worker_types(w.jobs.get(NORMAL) or {})) == 2, "the normal job running again")
        self.step(
            "4. the normal job is admitted again",
            f"workers on {', '.join(worker_types(w.jobs[NORMAL]))}, resuming from its ledgers",
        )

        victim = w.until(self._spot_worker_mid_run, "a running spot worker with partial progress")
        job_name, pod = victim
        node = pod.spec.node_name
        on_node = [p for p in self.pods(job_name) if p.spec.node_name == node and _running(p)]
        pids = [pid for p in on_node if (pid := _pid(p)) is not None]
        self.say(f"    reclaiming spot node {node} under {pod.metadata.name} ({_progress(pod)})")
        self.clients.core.delete_node(node)
        demo.wait_until(lambda: all(_dead(p) for p in pids), 30, f"the workers on {node} killed", 0.05)
        r.reclaimed_node, r.reclaimed_job = node, job_name
        r.reclaim_committed = committed_units(self.ledger_dir(job_name))
        w.until(lambda: reclaims(w.jobs[job_name]) >= 1, f"the operator counting the reclaim of {job_name}")
        w.until(
            lambda: (
                any(_running(p) and p.spec.node_name != node for p in self.pods(job_name))
                and len(worker_types(w.jobs[job_name])) + self._finished_shards(job_name) == 2
            ),
            f"the worker of {job_name} recreated on another node",
        )
        self.step(
            "5. a spot node under a running worker is reclaimed",
            f"node {node} deleted under {job_name}; the worker was recreated and resumes from its ledger "
            f"({sum(len(u) for u in r.reclaim_committed.values())} units committed at the kill)",
        )

        pending = [CRITICAL, NORMAL]
        while pending:  # each crate is built as soon as its job has succeeded
            finished = w.until(
                lambda: [n for n in pending if demo.Snapshot.of(w.jobs[n]).phase == "Succeeded"],
                f"{' and '.join(pending)} to succeed",
                timeout=self.options.finish_timeout,
            )
            for name in finished:
                self._build(name)
                pending.remove(name)
        w.poll()
        r.jobs = dict(w.jobs)
        r.pool = dict(w.pool)
        self._check_ledgers()
        self.step(
            "6. both jobs succeed, their crates build",
            ", ".join(f"{n}: {r.reports[n].translated}/{r.reports[n].total} translated" for n in r.reports)
            + "; nothing committed before the preemption or the reclaim was redone",
        )
        self._epilogue()
        return r

    def _finished_shards(self, name: str) -> int:
        return sum(1 for p in self.pods(name) if p.status and p.status.phase == "Succeeded")

    def _spot_worker_mid_run(self) -> tuple[str, Any] | None:
        spot = {n for n, t in self.node_types().items() if t == "spot"}
        for name in (NORMAL, CRITICAL):
            for pod in self.pods(name):
                report = _progress(pod)
                if (
                    pod.spec.node_name in spot
                    and _running(pod)
                    and report is not None
                    and 0 < report["unitsDone"] + report["unitsFailed"] < report["unitsTotal"]
                ):
                    return name, pod
        return None

    def _check_ledgers(self) -> None:
        r = self.result
        r.redone[NORMAL] = redone_units(self.ledger_dir(NORMAL), [r.preempted_committed])
        if r.reclaimed_job:
            before = [r.reclaim_committed] + ([r.preempted_committed] if r.reclaimed_job == NORMAL else [])
            r.redone[r.reclaimed_job] = redone_units(self.ledger_dir(r.reclaimed_job), before)
        bad = {k: v for k, v in r.redone.items() if v}
        if bad:
            raise StoryError(f"units committed before an interruption were translated again: {bad}")

    def _build(self, name: str) -> None:
        r = self.result
        crate = self.crate(name)
        demo.wait_until(lambda: (crate / "translation_report.json").is_file(), 30, f"the crate of {name}")
        r.reports[name] = report = demo.Report.read(crate)
        # one target directory for both: the support crate is compiled once
        r.builds[name] = build = demo.cargo_build(crate, target_dir=self.work / "cargo-target")
        if not build.ok:
            raise StoryError(f"the crate of {name} does not build:\n{build.output[-3000:]}")
        self.say(
            f"    [{self.clock():6.1f}s] {name} Succeeded: {report.translated}/{report.total} units "
            f"translated, cargo build ok in {build.seconds:.1f} s ({crate})"
        )

    def _epilogue(self) -> None:
        r = self.result
        self.say("")
        for name in (NORMAL, CRITICAL):
            job = r.jobs[name]
            rec = (job.get("status") or {}).get("recoveries") or {}
            self.say(
                f"cost of {name:<13} {demo.cost_line(job)}  (reclaims {rec.get('reclaims') or 0}, "
                f"error retries {rec.get('errorRetries') or 0})"
            )
        r.events = self._events()
        self.say("events a platform team would see (kubectl get events):")
        for line in r.events:
            self.say(f"  {line}")
        r.alerts = self._alerts()
        fired = [a.name for a in r.alerts if a.fired]
        self.say(
            f"alerts fired: {', '.join(fired) if fired else 'none'} (the operator's /metrics against the "
            "shipped rules' thresholds; docs/monitoring.md)"
        )
        for a in r.alerts:
            self.say(f"  {a.line()}")

    def _alerts(self) -> list[AlertWatch]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                text = resp.read().decode()
        except OSError as exc:
            raise StoryError(f"the operator's metrics at {url} could not be read: {exc}") from exc
        out = []
        for a in ALERTS:
            if f"# HELP {a.metric} " not in text:
                raise StoryError(f"the operator's /metrics has no {a.metric} (alert {a.name})")
            values = metric_values(text, a.metric, a.labels) or [0.0]  # a labelled counter never incremented
            total = sum(values) if a.metric.endswith("_total") else max(values)
            out.append(dataclasses.replace(a, value=total))
        return out

    def _events(self) -> list[str]:
        """This run's events of the two jobs and the pool (earlier runs' objects had other uids)."""
        uids = {
            str((obj.get("metadata") or {}).get("uid"))
            for obj in (*self.result.jobs.values(), self.result.pool)
        }
        lines = []
        for ns in (self.namespace, "default"):
            for ev in self.clients.core.list_namespaced_event(ns).items:
                obj = ev.involved_object
                if obj.uid in uids:
                    t = ev.last_timestamp or ev.event_time or ev.first_timestamp
                    lines.append((str(t), f"{ev.type:<7} {obj.kind}/{obj.name}: {ev.reason}: {ev.message}"))
        return [text for _, text in sorted(lines)]


@dataclass(frozen=True)
class AlertWatch:
    """One shipped alert rule and the operator metric it is computed from, read once at the end."""

    name: str
    metric: str
    threshold: float
    what: str
    labels: str = ""
    """A label matcher the samples must carry (as written in the exposition), e.g. priority="critical"."""
    value: float = 0.0

    @property
    def fired(self) -> bool:
        return self.value > self.threshold

    def line(self) -> str:
        state = "FIRED" if self.fired else "quiet"
        return (
            f"{state:<5} {self.name:<31} {self.metric} = {self.value:g} "
            f"(fires above {self.threshold:g} {self.what})"
        )


ALERTS = (
    # monitoring/rules/portalis.rules.yaml; the story's operator started minutes ago, so its counters are
    # what an hour's increase() would see. `for:` durations are not waited for.
    AlertWatch("PortalisSpotReclaimsFrequent", "portalis_recovery_reclaims_total", 5, "reclaims in 1 h"),
    AlertWatch(
        "PortalisWorkerErrorRetriesHigh", "portalis_recovery_error_retries_total", 5, "retries in 30 min"
    ),
    AlertWatch(
        "PortalisJobWorkersNotStarting", "portalis_jobs_not_started_max_seconds", 300, "s waiting to start"
    ),
    AlertWatch(
        "PortalisJobQueuedTooLong",
        "portalis_scheduler_oldest_queued_seconds",
        600,
        "s queued, critical",
        'priority="critical"',
    ),
)


def metric_values(text: str, name: str, labels: str = "") -> list[float]:
    """Every sample of metric `name` (carrying `labels`) in Prometheus text format."""
    out = []
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ") and labels in line:
            with contextlib.suppress(ValueError):
                out.append(float(line.rsplit(" ", 1)[-1]))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_story(cluster: LocalCluster, options: StoryOptions, say: Say = print) -> StoryResult:
    """Set up the story's pool, agent and operator on a running control plane, then play it; StoryError
    names the step that did not happen."""
    story = Story(cluster, options, say)
    started = time.monotonic()
    say(f"==> story set-up: pool {options.pool} (clusterAPI, machines served by the node agent), operator")
    story.set_up()
    say(f"    done in {time.monotonic() - started:.1f} s")
    result = story.run()
    result.seconds = story.clock()
    say(f"story time: {result.seconds:.1f} s (from the first job to both crates built)")
    return result


def stop_story(cluster: LocalCluster, options: StoryOptions) -> None:
    """Stop the story's operator and agent (its nodes go with it)."""
    demo.stop_process(cluster, f"operator-{options.namespace}")
    stop_agent(cluster, pool=options.pool)


def main(state_dir: Path | None = None) -> int:
    """`portalis-dev story` (what `make demo` runs): the control plane up, then the story."""
    from portalis_dev.layout import default_state_dir

    options = StoryOptions(state_dir=state_dir or default_state_dir())
    cluster = LocalCluster(options.state_dir)
    started = time.monotonic()
    try:
        demo._check_prerequisites()
        print("==> control plane")
        cluster.up(progress=lambda m: print(f"    {m}"))
        run_story(cluster, options)
    except demo.DemoError as exc:
        print(f"portalis-dev story: FAILED: {exc}", file=sys.stderr)
        print(
            f"logs: {cluster.state_dir / 'logs'} (operator-{options.namespace}.log, "
            f"agent-{options.pool}.log); worker logs: "
            f"{cluster.state_dir / 'agent' / 'pods' / options.namespace}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("\nportalis-dev story: interrupted (`portalis-dev down` stops everything)", file=sys.stderr)
        return 130
    print(f"total time:  {time.monotonic() - started:.1f} s")
    print(
        'look around: eval "$(.venv/bin/portalis-dev env)"; kubectl get tj -n portalis-story; '
        "kubectl get gpupools; stop everything: .venv/bin/portalis-dev down"
    )
    return 0
