"""status.result (issue 16): the worker's result report, its bounded decoding, and the status written
from it when a job finishes. Pure: no cluster, no processes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator.api import ProgressStatus, ResultStatus, TranslationJob
from portalis_operator.jobs import Context, plan_job
from portalis_operator.results import OTHER_REASONS, job_result, output_location
from portalis_operator.snapshot import JobView, PodView
from portalis_worker.protocol import (
    MAX_EXAMPLES,
    MAX_NAME_CHARS,
    MAX_REASONS,
    MAX_RESULT_CHARS,
    ResultReport,
    tree_digest,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32


def translation_report(failures: list[tuple[str, str, str]], translated: int = 198) -> dict[str, Any]:
    """A translation_report.json as crate.render_report writes it."""
    return {
        "crate": "shopkit",
        "edition": "2021",
        "files": 21,
        "units": {
            "total": translated + len(failures),
            "translated": translated,
            "failed": len(failures),
            "verified": 40,
            "mismatch": 1,
            "compiled": translated - 41,
        },
        "failures": [{"path": p, "unit": u, "reason": r, "message": f"{u}: why"} for p, u, r in failures],
        "verification": [],
    }


SEVEN = [
    ("shopkit/a.py", "f1", "unsupported"),
    ("shopkit/a.py", "f2", "unsupported"),
    ("shopkit/b.py", "C", "dependency"),
    ("shopkit/b.py", "g", "unsupported"),
    ("shopkit/c.py", "h", "rustc"),
    ("shopkit/c.py", "k", "unsupported"),
    ("shopkit/d.py", "<module>", "dependency"),
]


def make_job(status: dict[str, Any] | None = None, **spec: Any) -> TranslationJob:
    return TranslationJob.model_validate(
        {
            "metadata": {
                "name": "j",
                "namespace": "ns",
                "generation": 1,
                "creationTimestamp": T0.isoformat(),
            },
            "spec": {
                "source": {"configMap": {"name": "src"}},
                "output": {"persistentVolumeClaim": {"claimName": "out", "path": "/team/crates/"}},
                "target": {"crateName": "shopkit"},
                "parallelism": 2,
                **spec,
            },
            "status": status or {},
        }
    )


def test_the_operator_reads_what_the_assembling_worker_writes() -> None:
    written = ResultReport.from_translation_report(translation_report(SEVEN), DIGEST, 30, True).encode()
    report = ResultReport.decode(written)
    assert report is not None
    assert (report.units.total, report.units.translated, report.units.failed) == (205, 198, 7)
    assert (report.units.verified, report.units.mismatched, report.units.compiled) == (40, 1, 157)
    assert report.reasons == (("unsupported", 4), ("dependency", 2), ("rustc", 1))
    assert [(e.file, e.unit, e.reason) for e in report.examples] == SEVEN[:MAX_EXAMPLES]
    assert (report.crate, report.digest, report.crate_files, report.builds) == ("shopkit", DIGEST, 30, True)

    result = job_result(make_job(), [None, report], None, succeeded=True)
    assert result.reported is True
    assert result.output == "pvc://out/team/crates/shopkit"
    assert result.units is not None
    assert result.units.failed == 7
    assert [(r.reason, r.count) for r in result.failure_reasons or []] == [
        ("unsupported", 4),
        ("dependency", 2),
        ("rustc", 1),
    ]
    assert len(result.failures or []) == MAX_EXAMPLES
    assert result.failures_truncated is True
    assert result.crate is not None
    assert result.crate.builds is True
    assert result.crate.digest == DIGEST
    assert result.summary == "198/205 units translated, 7 failed; the crate builds"


def test_reasons_beyond_the_limit_are_counted_as_other() -> None:
    many = [("m.py", f"u{i}", f"reason{i:02d}") for i in range(MAX_REASONS + 4)]
    report = ResultReport.decode(
        ResultReport.from_translation_report(translation_report(many), DIGEST, 3, None).encode()
    )
    assert report is not None
    assert len(report.reasons) == MAX_REASONS
    assert report.other_reasons == 4
    result = job_result(make_job(), [report], None, succeeded=True)
    reasons = result.failure_reasons or []
    assert reasons[-1].reason == OTHER_REASONS
    assert reasons[-1].count == 4
    assert sum(r.count for r in reasons) == len(many)


def test_hostile_names_are_clipped_by_the_writer_and_stay_decodable() -> None:
    nasty = [("x" * 5000, "evil\x1b[2Jname\n", "Not A Reason!\x00")]
    report = ResultReport.decode(
        ResultReport.from_translation_report(translation_report(nasty), DIGEST, 3, False).encode()
    )
    assert report is not None
    (example,) = report.examples
    assert len(example.file) == MAX_NAME_CHARS
    assert example.unit.isprintable()
    assert example.reason == "Not-A-Reason--"


def _valid() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        ResultReport.from_translation_report(translation_report(SEVEN), DIGEST, 30, True).encode()
    )
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("units", "total"), 10**12),  # beyond MAX_UNITS
        (("units", "total"), 999),  # translated + failed != total
        (("units", "verified"), 41),  # compiled + verified + mismatched != translated
        (("units", "failed"), True),  # a bool is not a count
        (("units", "translated"), 198.0),
        (("reasons",), [["unsupported", 7]] * 2),  # repeated reason
        (("reasons",), [["unsupported", 6]]),  # counts do not add up to failed
        (("reasons",), [["bad reason", 7]]),
        (("examples",), [["a.py", "f", "unsupported", ""]] * (MAX_EXAMPLES + 1)),
        (("examples",), [["a.py", "f\x07", "unsupported", ""]]),
        (("examples",), [["a" * (MAX_NAME_CHARS + 1), "f", "unsupported", ""]]),
        (("digest",), "sha256:" + "g" * 64),
        (("crate",), "../x"),
        (("builds",), "yes"),
        (("crateFiles",), -1),
    ],
)
def test_decode_refuses_what_is_out_of_bounds_or_inconsistent(path: tuple[str, ...], value: object) -> None:
    body = _valid()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert ResultReport.decode(json.dumps(body)) is None


def test_decode_refuses_oversized_and_non_json() -> None:
    assert ResultReport.decode("x" * (MAX_RESULT_CHARS + 1)) is None
    assert ResultReport.decode('{"units": NaN}') is None
    assert ResultReport.decode("[1, 2]") is None
    assert ResultReport.decode(None) is None
    assert ResultReport.decode("[" * 10_000 + "]" * 10_000) is None


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    )
)
def test_anything_a_pod_writes_gives_none_or_a_small_result(raw: object) -> None:
    for candidate in (json.dumps(raw), json.dumps({**_valid(), "extra": raw})):
        report = ResultReport.decode(candidate)
        if report is None:
            continue
        status = job_result(make_job(), [report], None, succeeded=True)
        assert (
            len(json.dumps(status.to_wire())) <= MAX_RESULT_CHARS
        )  # status.result is at most as large as the annotation
        ResultStatus.model_validate(status.to_wire())  # within the CRD's bounds (api.py mirrors them)


def test_the_largest_result_a_pod_can_make_is_small() -> None:
    wide = [("p" * 300, "u" * 300, f"r{i:02d}" + "x" * 60) for i in range(40)]
    report = ResultReport.from_translation_report(translation_report(wide), DIGEST, 10**6, True)
    assert len(report.encode()) <= MAX_RESULT_CHARS
    decoded = ResultReport.decode(report.encode())
    assert decoded is not None
    status = job_result(make_job(), [decoded], None, succeeded=True)
    assert (
        len(json.dumps(status.to_wire())) <= MAX_RESULT_CHARS
    )  # status.result is at most as large as the annotation


def test_without_a_report_a_failed_job_keeps_its_progress_counts_and_claims_no_crate() -> None:
    progress = ProgressStatus(units_total=205, units_done=120, units_failed=3, percent=60)
    result = job_result(make_job(), [None, None], progress, succeeded=False)
    assert result.reported is False
    assert result.crate is None
    assert result.output is None
    assert result.units is not None
    assert (result.units.total, result.units.translated) == (205, 120)
    assert result.summary == "failed with no crate reported: 120/205 units translated"


def test_output_locations() -> None:
    assert output_location(make_job()) == "pvc://out/team/crates/shopkit"
    root = make_job(output={"persistentVolumeClaim": {"claimName": "out"}})
    assert output_location(root) == "pvc://out/shopkit"
    assert output_location(make_job(output={"configMap": {"name": "crate"}})) == "configmap://crate"


def test_tree_digest_is_the_sha256sum_listing(tmp_path: Path) -> None:
    files = {"Cargo.toml": b"[package]\n", "src/lib.rs": b"pub fn f() {}\n", "src/a/mod.rs": b""}
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    listing = "".join(
        f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in ("Cargo.toml", "src/a/mod.rs", "src/lib.rs")
    )
    assert tree_digest(files) == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    if shutil.which("sha256sum") and shutil.which("find"):
        shell = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum"
        out = subprocess.run(["sh", "-c", shell], cwd=tmp_path, capture_output=True, text=True, check=True)
        assert tree_digest(files) == "sha256:" + out.stdout.split()[0]


def _status_with_workers() -> dict[str, Any]:
    cond = {"status": "True", "reason": "R", "message": "", "lastTransitionTime": T0.isoformat()}
    return {
        "conditions": [{"type": "Admitted", **cond}, {"type": "Running", **cond}],
        "admittedAt": T0.isoformat(),
        "startTime": T0.isoformat(),
        "workers": [{"shard": i, "pod": f"j-w{i}", "node": "n1"} for i in range(2)],
    }


def test_a_job_whose_workers_all_succeeded_gets_its_result_once() -> None:
    from portalis_operator.packing import Node
    from portalis_operator.snapshot import NodeView
    from portalis_operator.workload import CapacityType

    report = ResultReport.decode(
        ResultReport.from_translation_report(translation_report(SEVEN), DIGEST, 30, True).encode()
    )
    pods = {
        0: PodView("j-w0", 0, "Succeeded", "n1", exit_code=0, uid="u0"),
        1: PodView("j-w1", 1, "Succeeded", "n1", exit_code=0, uid="u1", result=report),
    }
    nodes = {"n1": NodeView(Node("n1", CapacityType.ON_DEMAND, 8))}
    plan = plan_job(
        JobView(make_job(_status_with_workers()), pods),
        None,
        None,
        Context(nodes=nodes, now=T0 + timedelta(minutes=3)),
    )
    assert plan.status is not None
    assert plan.status.phase == "Succeeded"
    assert plan.status.result is not None
    assert plan.status.result.reported is True
    assert plan.status.result.units is not None
    assert plan.status.result.units.failed == 7
    # the next cycle leaves a finished job's result as it is
    again = plan_job(
        JobView(make_job(plan.status.to_wire()), pods),
        None,
        None,
        Context(nodes=nodes, now=T0 + timedelta(minutes=4)),
    )
    assert again.status is None or again.status.result == plan.status.result
