"""The worker as a process: SIGKILL mid-run then resume, SIGTERM flushes and exits "stopped, resume me".

The worker runs through `main()` with a slow fake model client (auto backend), so that a kill lands
in the middle of the run; the model answers with the rule-based translation, so results are the same
whatever backend answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from worker_builders import crate_files, supported_function, worker_env, write_project

from portalis_worker.ledger import LocalFileStore
from portalis_worker.protocol import WorkerExit

pytestmark = pytest.mark.unit

RUNNER = """
import sys, time
from portalis_worker.main import main
from portalis_worker.rules import translate_unit

class SlowModel:
    def translate_batch(self, sources):
        time.sleep(float(sys.argv[1]))
        out = []
        for s in sources:
            try:
                out.append(translate_unit(s))
            except Exception:
                out.append("")
        return out

sys.exit(main([], model_client_factory=lambda a: SlowModel()))
"""


def project(root: Path, files: int = 30) -> Path:
    return write_project(
        root,
        {
            f"pkg/m{i:02d}.py": "\n\n".join(supported_function(f"f{i}_{j}", j) for j in range(3))
            for i in range(files)
        }
        | {"pkg/__init__.py": "", "bad.py": b"\xff\xfe junk"},
    )


def start(tmp: Path, src: Path, delay: float, **env: str) -> subprocess.Popen[bytes]:
    tmp.mkdir(parents=True, exist_ok=True)
    runner = tmp / "runner.py"
    runner.write_text(RUNNER)
    # No type model server here (port 9 is discard; nothing listens): auto goes on with the rules.
    no_typer = {"PORTALIS_TRITON_URL": "127.0.0.1:9", "PORTALIS_MODEL_FALLBACK": "rules"}
    no_typer["PORTALIS_MODEL_WAIT_SECONDS"] = "0"
    full = {**os.environ, **worker_env(tmp, src, PORTALIS_BACKEND="auto", **no_typer, **env)}
    return subprocess.Popen(
        [sys.executable, str(runner), str(delay)], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def unit_ids(ledger: Path) -> list[str]:
    return [r["id"] for r in LocalFileStore(ledger).read() if r.get("kind") == "unit"]


def wait_for_units(ledger: Path, count: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(unit_ids(ledger)) < count:
        assert proc.poll() is None, "the worker ended before it could be interrupted"
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)


def fault_free(tmp: Path, src: Path) -> dict[str, bytes]:
    proc = start(tmp, src, 0.0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    return crate_files(tmp / "out" / "demo-crate")


def test_sigkill_then_resume_redoes_nothing_and_gives_the_same_crate(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    expected = fault_free(tmp_path / "clean", src)

    tmp = tmp_path / "faulty"
    ledger = tmp / "ledger" / "shard-0.ledger"
    proc = start(tmp, src, 0.03)
    wait_for_units(ledger, 20, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = unit_ids(ledger)
    assert 20 <= len(before) < 91
    assert not (tmp / "out" / "demo-crate").exists()

    proc = start(tmp, src, 0.0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    after = unit_ids(ledger)
    assert after[: len(before)] == before
    redone = set(before) & set(after[len(before) :])
    assert redone == set(), "units recorded before the kill were translated again"
    assert len(set(after)) == len(after) == 91
    assert crate_files(tmp / "out" / "demo-crate") == expected


def test_sigterm_flushes_and_exits_resume_not_zero(tmp_path: Path) -> None:
    # Exit 0 would make Kubernetes call the pod Succeeded, and the operator a finished shard.
    src = project(tmp_path / "src")
    ledger = tmp_path / "ledger" / "shard-0.ledger"
    proc = start(tmp_path, src, 0.05)
    wait_for_units(ledger, 10, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == WorkerExit.RESUME == 75, err.decode()[-2000:]
    assert time.monotonic() - sent < 5
    assert b"shard stopped" in err
    data = ledger.read_bytes()
    assert data.endswith(b"\n"), "no torn record after a graceful stop"
    done = unit_ids(ledger)
    assert len(done) < 91
    proc = start(tmp_path, src, 0.0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert unit_ids(ledger)[: len(done)] == done
    assert len(set(unit_ids(ledger))) == 91


def test_invalid_environment_exits_2_naming_the_variable(tmp_path: Path) -> None:
    proc = start(tmp_path, tmp_path, 0.0, PORTALIS_SHARD_INDEX="7")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert b"PORTALIS_SHARD_INDEX" in err
