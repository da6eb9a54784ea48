"""The operator-worker wire format, joined end to end: what the operator writes into a worker pod is what
the worker loads, and what the worker reports (annotations, exit codes) is what the operator reads.

The definitions live once, in portalis_worker.protocol (annotations, exit codes) and
portalis_worker.assignment (the PORTALIS_* variables); these tests fail when one side changes alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from builders import tj

from portalis_operator.manifests import SHARD_LABEL, WorkerPodSettings, build_worker_pod
from portalis_operator.recovery import ShardState, describe_exit
from portalis_operator.snapshot import parse_pod
from portalis_operator.workload import SpotMode
from portalis_worker.assignment import Assignment, load_assignment
from portalis_worker.progress import Progress
from portalis_worker.protocol import (
    PROGRESS_ANNOTATION,
    RESULT_ANNOTATION,
    FailureExample,
    ResultReport,
    UnitCounts,
    WorkerExit,
)

pytestmark = pytest.mark.unit

SETTINGS = WorkerPodSettings(image="portalis/worker:test", capacity_type_label="example.com/capacity")
# What the API server fills in from the downward API (fieldRef) when it starts the pod.
DOWNWARD = {"metadata.name": "job-w1", "spec.nodeName": "node-a"}


def worker_env(pod: dict[str, Any]) -> dict[str, str]:
    """The worker container's environment as the kubelet would give it (fieldRefs resolved)."""
    (worker,) = [c for c in pod["spec"]["containers"] if c["name"] == "worker"]
    env: dict[str, str] = {}
    for var in worker.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = DOWNWARD[var["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def assignment_of(job: Any, shard: int) -> tuple[dict[str, str], Assignment]:
    env = worker_env(build_worker_pod(job, shard, spot_mode=SpotMode.PREFERRED, settings=SETTINGS))
    return env, load_assignment(env)


def test_the_pod_environment_is_the_workers_assignment() -> None:
    job = (
        tj("job")
        .spec(
            parallelism=3,
            translation={"backend": "rules"},
            target={"crateName": "my_crate", "edition": "2024"},
            checkpoint={"interval": "45s"},
            source={"configMap": {"name": "src"}, "include": ["pkg/**/*.py"], "exclude": ["pkg/tests/**"]},
        )
        .obj()
    )
    _, a = assignment_of(job, 1)
    assert (a.job_name, a.job_namespace, a.job_uid) == (
        job.metadata.name,
        job.metadata.namespace,
        job.metadata.uid,
    )
    assert (a.shard_index, a.shard_count) == (1, 3)
    assert a.backend.value == "rules"
    assert (a.crate_name, a.rust_edition) == ("my_crate", "2024")
    assert a.checkpoint_interval_seconds == 45
    assert a.include == ("pkg/**/*.py",)
    assert a.exclude == ("pkg/tests/**",)
    assert (a.pod_name, a.node_name) == ("job-w1", "node-a")
    for path in (a.source_dir, a.output_dir, a.ledger_dir):
        assert isinstance(path, Path)
        assert path.is_absolute()


def test_every_variable_the_operator_sets_is_one_the_worker_reads() -> None:
    known = {str(f.validation_alias.choices[0]) for f in Assignment.model_fields.values()}  # type: ignore[union-attr]
    job = tj("job").spec(source={"git": {"url": "https://git.example.com/a.git", "ref": "v1"}}).obj()
    for shard in range(job.spec.parallelism):
        env, a = assignment_of(job, shard)
        portalis = {name for name in env if name.startswith("PORTALIS_")}
        assert portalis <= known, portalis - known  # a variable the worker would silently ignore
        assert (a.git_url, a.git_ref) == ("https://git.example.com/a.git", "v1")


@pytest.mark.parametrize("fallback", ["none", "rules"])
def test_the_model_fallback_reaches_the_worker(fallback: str) -> None:
    job = tj("job").spec(model={"fallback": fallback}).obj()
    _, a = assignment_of(job, 0)
    assert (a.backend.value, a.model_fallback.value) == ("auto", fallback)


def test_a_configmap_output_reaches_the_worker() -> None:
    job = tj("job").spec(parallelism=2, output={"configMap": {"name": "out"}}).obj()
    _, a = assignment_of(job, 0)
    assert a.output_config_map == "out"
    assert len(a.ledger_config_maps) == 2


def reported_pod(
    annotations: dict[str, str], phase: str = "Running", exit_code: int | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if exit_code is not None:
        status["containerStatuses"] = [
            {
                "name": "worker",
                "state": {"terminated": {"exitCode": exit_code, "finishedAt": "2026-01-01T00:00:00Z"}},
            }
        ]
    return {
        "metadata": {"name": "job-w0", "uid": "u", "labels": {SHARD_LABEL: "0"}, "annotations": annotations},
        "spec": {"nodeName": "node-a"},
        "status": status,
    }


def test_the_workers_progress_report_is_what_the_operator_reads() -> None:
    checkpoint = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    sent = Progress(units_total=40, units_done=12, units_failed=3, last_checkpoint=checkpoint.timestamp())
    view = parse_pod(reported_pod({PROGRESS_ANNOTATION: sent.to_annotation()}))
    assert view is not None
    assert view.progress is not None
    got = view.progress
    assert (got.units_total, got.units_done, got.units_failed) == (40, 12, 3)
    assert got.last_checkpoint_time == checkpoint


def test_the_workers_result_report_is_what_the_operator_reads() -> None:
    sent = ResultReport(
        crate="my_crate",
        digest="sha256:" + "0" * 64,
        crate_files=7,
        source_files=5,
        units=UnitCounts(total=10, translated=8, failed=2, compiled=3, verified=5),
        reasons=(("unsupported-syntax", 2),),
        examples=(FailureExample("pkg/mod.py", "f", "unsupported-syntax", "yield from"),),
        builds=True,
    )
    view = parse_pod(reported_pod({RESULT_ANNOTATION: sent.encode()}, phase="Succeeded", exit_code=0))
    assert view is not None
    assert view.result == sent


@pytest.mark.parametrize(
    ("code", "phase", "state"),
    [
        (WorkerExit.OK, "Succeeded", ShardState.FINISHED),
        (WorkerExit.RESUME, "Failed", ShardState.DISPLACED),
        (WorkerExit.ERROR, "Failed", ShardState.FAILED),
        (WorkerExit.TRANSIENT, "Failed", ShardState.FAILED),
        (WorkerExit.NO_SPACE, "Failed", ShardState.FAILED),
        (WorkerExit.CONFIG, "Failed", ShardState.INVALID),
        (WorkerExit.OUTPUT, "Failed", ShardState.INVALID),
        (WorkerExit.MODEL_UNAVAILABLE, "Failed", ShardState.FAILED),
        (WorkerExit.MODEL_NOT_SERVED, "Failed", ShardState.INVALID),
    ],
)
def test_every_exit_code_has_a_meaning_for_the_operator(
    code: WorkerExit, phase: str, state: ShardState
) -> None:
    view = parse_pod(reported_pod({}, phase=phase, exit_code=int(code)))
    assert view is not None
    assert view.state is state


def test_every_exit_code_is_covered() -> None:
    assert {e.name for e in WorkerExit} == {
        "OK",
        "RESUME",
        "ERROR",
        "TRANSIENT",
        "NO_SPACE",
        "CONFIG",
        "OUTPUT",
        "MODEL_UNAVAILABLE",
        "MODEL_NOT_SERVED",
    }


@pytest.mark.parametrize("code", [WorkerExit.MODEL_UNAVAILABLE, WorkerExit.MODEL_NOT_SERVED])
def test_a_model_server_exit_tells_the_user_how_to_go_on_without_it(code: WorkerExit) -> None:
    words = describe_exit(int(code))
    assert words.startswith(f"exit code {int(code)}: the model server")
    assert "spec.model.fallback: rules" in words
