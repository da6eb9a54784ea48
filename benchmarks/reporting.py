"""The results format every benchmark writes, defined once, and the contract of its smoke mode.

A benchmark's normal run writes ``benchmarks/results/<name>.json``: a list of records
``{metric, value, unit, compared_with}``, where ``value`` is a finite number (or, for an outcome that
is not a figure, a non-empty string) and ``compared_with`` says what the figure was measured against
(a baseline from the same run, a target, a published figure).

``--smoke`` runs the same code path on the smallest input, in seconds: it checks that the records are
complete and the figures real (finite, at least one of them non-zero) and writes them only where
``--out`` says, never into ``benchmarks/results/``, so a smoke run cannot replace measured figures.
The test suite runs every smoke mode (tests/*/test_benchmark*_smoke.py).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIELDS = ("metric", "value", "unit", "compared_with")


class IncompleteResults(AssertionError):
    """A benchmark produced records that are missing a field or hold no real figure."""


def record(metric: str, value: float, unit: str, compared_with: str) -> dict[str, Any]:
    return {"metric": metric, "value": round(value, 4), "unit": unit, "compared_with": compared_with}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The options every benchmark shares: ``--smoke`` and ``--out``."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run the same code on the smallest input, check the figures, write only to --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the records (default: benchmarks/results/{name}.json; with --smoke: nowhere)",
    )


def check(records: Sequence[Mapping[str, Any]]) -> None:
    """Raise IncompleteResults unless every record has the four fields and the figures are real."""
    if not records:
        raise IncompleteResults("no records")
    numbers: list[float] = []
    for r in records:
        if tuple(sorted(r)) != tuple(sorted(FIELDS)):
            raise IncompleteResults(f"record fields {sorted(r)}, expected {sorted(FIELDS)}: {r}")
        for field in ("metric", "unit", "compared_with"):
            if not isinstance(r[field], str) or not r[field].strip():
                raise IncompleteResults(f"{r['metric']!r}: {field} must be a non-empty string: {r}")
        value = r["value"]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise IncompleteResults(f"{r['metric']!r}: value must be a number or an outcome string: {r}")
        if isinstance(value, str):
            if not value.strip():
                raise IncompleteResults(f"{r['metric']!r}: empty outcome: {r}")
            continue
        if not math.isfinite(value):
            raise IncompleteResults(f"{r['metric']!r}: value {value} is not a real figure")
        numbers.append(value)
    if not any(numbers):
        raise IncompleteResults("every figure is zero (or there are none): nothing was measured")


def destination(name: str, out: Path | None, smoke: bool) -> Path | None:
    """Where a run writes its records; a smoke run refuses benchmarks/results/."""
    if not smoke:
        return out if out is not None else RESULTS_DIR / f"{name}.json"
    if out is not None and out.resolve().is_relative_to(RESULTS_DIR):
        raise SystemExit(f"--smoke never writes into benchmarks/results/ (got --out {out})")
    return out


def write(name: str, records: Sequence[Mapping[str, Any]], out: Path | None, smoke: bool) -> Path | None:
    """Check the records, then write them (see `destination`); returns the path written, if any."""
    check(records)
    path = destination(name, out, smoke)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(list(records), indent=2) + "\n")
    if smoke:
        where = path if path is not None else "nowhere (no --out)"
        print(f"smoke: {len(records)} records checked; written to {where}", flush=True)
    return path
