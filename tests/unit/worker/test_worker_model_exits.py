"""The worker's exit codes for a model server it cannot use, through its real entry point and the real
Triton client against a port where no server listens (docs/worker.md, "Exit codes").

- auto (the type model) or model (the translator), `fallback: none`: exit 6, the log names the server and
  the wait; the operator retries and shows the code's meaning in the job's condition (recovery.py);
- `fallback: rules`: the shard finishes with the rules alone (exit 0), auto and model alike;
- model mode with no client for the model at all: exit 7 (retrying cannot help);
- a type model lost mid-run (in process, a client that stops answering): exit 6 with the units before
  the loss committed, and the retried shard resumes from them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from worker_builders import small_project, worker_env

from portalis_worker.assignment import load_assignment
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.main import no_model_client, run_shard
from portalis_worker.protocol import WorkerExit

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)")

pytestmark = pytest.mark.unit

NOBODY = "127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once


UNTYPED = "def shout(word):\n    return word.upper() + '!'\n"


def run(tmp: Path, **env: str) -> tuple[int, list[dict[str, object]]]:
    src = small_project(tmp / "src", modules=1, functions=2)
    (src / "pkg" / "loud.py").write_text(UNTYPED)
    full = {
        **os.environ,
        **worker_env(tmp, src, PORTALIS_TRITON_URL=NOBODY, PORTALIS_MODEL_WAIT_SECONDS="1", **env),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "portalis_worker.main"], env=full, capture_output=True, text=True, timeout=120
    )
    logs = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return proc.returncode, logs


def units(tmp: Path) -> list[dict[str, object]]:
    return [r for r in LocalFileStore(ledger_path(tmp / "ledger", 0)).read() if r.get("kind") == "unit"]


@pytest.mark.parametrize("backend", ["auto", "model"])
def test_an_unreachable_model_server_exits_6_naming_it(tmp_path: Path, backend: str) -> None:
    code, logs = run(tmp_path, PORTALIS_BACKEND=backend)
    assert code == WorkerExit.MODEL_UNAVAILABLE, logs
    errors = [str(r["message"]) for r in logs if str(r.get("level")).lower() == "error"]
    assert any("did not answer" in m and "within 1 s" in m for m in errors), errors
    assert not units(tmp_path), "no unit may be translated without the model the job asked for"


@pytest.mark.parametrize("backend", ["auto", "model"])
def test_fallback_rules_finishes_the_shard_with_the_rules(tmp_path: Path, backend: str) -> None:
    code, logs = run(tmp_path, PORTALIS_BACKEND=backend, PORTALIS_MODEL_FALLBACK="rules")
    assert code == WorkerExit.OK, logs
    assert any("going on without the model" in str(r["message"]) for r in logs)
    done = units(tmp_path)
    assert done
    assert all(r["backend"] in ("rules", "rules+types") for r in done if r["status"] == "translated")
    (shout,) = [r for r in done if r["name"] == "shout"]
    assert shout["types"] == {
        "shout.word": {"type": "str", "source": "usage", "score": shout["types"]["shout.word"]["score"]}
    }
    # auto asked for the type model: the ledger and the report say these types were found without it
    if backend == "auto":
        assert shout["model"] == "unavailable"
        report = next((tmp_path / "out").rglob("TRANSLATION_REPORT.md")).read_text()
        assert "typed by the rules alone: the type model's server did not answer" in report
    else:
        assert "model" not in shout


def test_an_unknown_fallback_is_refused_naming_the_variable(tmp_path: Path) -> None:
    code, logs = run(tmp_path, PORTALIS_BACKEND="auto", PORTALIS_MODEL_FALLBACK="maybe")
    assert code == WorkerExit.CONFIG
    assert any("PORTALIS_MODEL_FALLBACK" in str(r["message"]) for r in logs), logs


class TyperGoingAway:
    """A type model that answers its first `answers` requests (the start-up probe included), then is
    unreachable for good, as a sidecar that died and was not brought back."""

    def __init__(self, answers: int) -> None:
        self.answers = answers
        self.calls = 0

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]:
        self.calls += 1
        if self.calls > self.answers:
            raise ConnectionRefusedError("the sidecar is gone")
        return [[("str", 0.9)] for _ in slots]


def test_a_model_server_lost_mid_run_ends_the_shard_with_6_and_a_new_pod_resumes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(6):
        (src / "pkg").mkdir(parents=True, exist_ok=True)
        (src / "pkg" / f"m{i}.py").write_text(UNTYPED.replace("shout", f"shout{i}"))
    env = worker_env(
        tmp_path, src, PORTALIS_BACKEND="auto", PORTALIS_MODEL_WAIT_SECONDS="0", PORTALIS_TRITON_URL=NOBODY
    )
    a = load_assignment(env)
    typer = TyperGoingAway(answers=3)  # the probe and two files
    assert run_shard(a, no_model_client, lambda _: typer) == WorkerExit.MODEL_UNAVAILABLE
    first = units(tmp_path)
    assert 0 < len(first) < 6, "the loss should land mid-run"
    assert all(r["types"] for r in first)
    assert typer.calls == 4  # the probe, two files, the one that found the server gone (no wait: 0 s)
    # the retried pod, its sidecar back: it resumes from the ledger and finishes
    assert run_shard(a, no_model_client, lambda _: TyperGoingAway(answers=10**6)) == WorkerExit.OK
    done = units(tmp_path)
    assert len(done) == 6
    assert [r["id"] for r in done[: len(first)]] == [r["id"] for r in first]
