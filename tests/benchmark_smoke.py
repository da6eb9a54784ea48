"""Runs a benchmark's `--smoke` mode as a subprocess and checks what every smoke run must hold.

The checks here are the tests' own reading of the results format (benchmarks/reporting.py states it):
every record has metric, value, unit and a non-empty compared_with; figures are finite; the committed
benchmarks/results/<name>.json is left byte for byte as it was.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalis_dev.layout import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
FIELDS = {"metric", "value", "unit", "compared_with"}


@dataclass(frozen=True)
class SmokeRun:
    returncode: int
    output: str
    records: list[dict[str, Any]]

    @property
    def values(self) -> dict[str, Any]:
        return {r["metric"]: r["value"] for r in self.records}


def _committed(name: str) -> bytes | None:
    path = BENCHMARKS / "results" / f"{name}.json"
    return path.read_bytes() if path.is_file() else None


def run_benchmark(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python benchmarks/<name>.py ARGS` from the repository root, output captured (stderr in stdout)."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_smoke(name: str, out: Path, *args: str, timeout: float = 300) -> SmokeRun:
    """Run `<name>.py --smoke --out OUT ARGS`; assert it succeeded, wrote complete records with real
    figures to OUT and left benchmarks/results/<name>.json alone."""
    before = _committed(name)
    proc = run_benchmark(name, "--smoke", "--out", str(out), *args, timeout=timeout)
    assert _committed(name) == before, f"the smoke run changed benchmarks/results/{name}.json"
    assert proc.returncode == 0, f"{name} --smoke exited {proc.returncode}:\n{proc.stdout[-4000:]}"
    assert "records checked" in proc.stdout, proc.stdout[-2000:]
    records = json.loads(out.read_text())
    assert isinstance(records, list), records
    assert records, f"{name} --smoke wrote no records"
    for r in records:
        assert set(r) == FIELDS, r
        assert isinstance(r["metric"], str), r
        assert isinstance(r["unit"], str), r
        assert r["unit"], r
        assert isinstance(r["compared_with"], str), r
        assert r["compared_with"].strip(), r
        value = r["value"]
        if isinstance(value, str):
            assert value.strip(), r
        else:
            assert isinstance(value, int | float), r
            assert not isinstance(value, bool), r
            assert math.isfinite(value), r
    return SmokeRun(proc.returncode, proc.stdout, records)
