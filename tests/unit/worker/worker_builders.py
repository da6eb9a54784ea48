"""Builders for worker tests: small projects on disk, environments, fake backends."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from portalis_worker.assignment import Assignment, load_assignment
from portalis_worker.backends import Outcome
from portalis_worker.units import Failure, Unit

SUPPORTED = "def {name}(a: int, b: int) -> int:\n    return a * {k} + b\n"


def supported_function(name: str, k: int = 1) -> str:
    """A function the rule-based translator supports (typed integer arithmetic)."""
    return SUPPORTED.format(name=name, k=k)


def write_project(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def small_project(root: Path, modules: int = 4, functions: int = 5) -> Path:
    """`pkg/__init__.py`, `pkg/m<i>.py` with supported functions, one module with a failing unit."""
    files: dict[str, str] = {"pkg/__init__.py": supported_function("root_fn")}
    for m in range(modules):
        body = "\n\n".join(supported_function(f"f{m}_{i}", i + m) for i in range(functions))
        files[f"pkg/m{m}.py"] = f'"""Module {m}."""\n\n{body}'
    files["pkg/broken.py"] = "def ok(a: int) -> int:\n    return a\n\ndef nope(:\n"
    return write_project(root, files)


def worker_env(tmp: Path, source: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PORTALIS_JOB_NAME": "demo",
        "PORTALIS_JOB_NAMESPACE": "team-a",
        "PORTALIS_JOB_UID": "uid-1",
        "PORTALIS_SHARD_INDEX": "0",
        "PORTALIS_SHARD_COUNT": "1",
        "PORTALIS_BACKEND": "rules",
        "PORTALIS_CHECKPOINT_INTERVAL_SECONDS": "1",
        "PORTALIS_CRATE_NAME": "demo-crate",
        "PORTALIS_RUST_EDITION": "2021",
        "PORTALIS_SOURCE_DIR": str(source),
        "PORTALIS_OUTPUT_DIR": str(tmp / "out"),
        "PORTALIS_LEDGER_DIR": str(tmp / "ledger"),
        "PORTALIS_SCRATCH_DIR": str(tmp / "scratch"),
        "PORTALIS_INCLUDE": '["**/*.py"]',
        "PORTALIS_EXCLUDE": "[]",
        "PORTALIS_METRICS_PORT": "0",
        "PORTALIS_RUST_CHECK": "false",
        "PORTALIS_SERVICE_ACCOUNT_DIR": str(tmp / "no-service-account"),
    }
    env.update(overrides)
    return env


def assignment(tmp: Path, source: Path, **overrides: str) -> Assignment:
    return load_assignment(worker_env(tmp, source, **overrides))


class FakeBackend:
    """Answers from a table (by unit name); records every batch it saw."""

    def __init__(self, name: str, answers: Mapping[str, Outcome] | None = None, default: Outcome = None):
        self.name = name
        self.answers = dict(answers or {})
        self.default = default
        self.batches: list[list[str]] = []

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        self.batches.append([u.name for u in units])
        return [self.answers.get(u.name, self.default) for u in units]


class EchoRust:
    """A fake translator: `fn <name>() -> i64 { <order> }` for every unit, no translator needed."""

    name = "rules"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        time.sleep(self.delay)
        out: list[Outcome] = []
        for u in units:
            if u.name.startswith("<"):
                out.append(Failure("unsupported", "module code"))
            else:
                out.append(f"pub fn {u.name}() -> i64 {{\n    {u.order}\n}}\n")
        return out


def crate_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
