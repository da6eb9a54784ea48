"""The worker's exit codes for a model server it cannot use, through its real entry point and the real
Triton client against a port where no server listens (docs/worker.md, "Exit codes").

- auto (the type model) or model (the translator), `fallback: none`: exit 6, the log names the server and
  the wait; the operator retries and shows the code's meaning in the job's condition (recovery.py);
- `fallback: rules`: the shard finishes with the rules alone (exit 0), auto and model alike;
- model mode with no client for the model at all: exit 7 (retrying cannot help).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from worker_builders import small_project, worker_env

from portalis_worker.ledger import LocalFileStore, ledger_path
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
