"""Translate a source tree the way a `rules` worker shard does, without a cluster.

Per file: `units.split_file` (one unit per top-level def/class, `<file>` failures for unreadable
files), the rules backend (`translate_unit` on each unit), then the rustc check of the file's units
as one module with fallback (`pipeline.translate_file`), exactly as `portalis-worker` does. Prints
one line per failed unit and the totals.

    .venv/bin/python examples/tools/check_sample.py [SOURCE_DIR] [--verbose] [--min-percent 85]

Exit status 1 when the translated share is below --min-percent. Needs `rustc` on PATH (use
--no-rustc to skip the check and count `translate_unit` results only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from portalis_worker.backends import RulesBackend
from portalis_worker.pipeline import translate_file
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources
from portalis_worker.units import split_file

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "sample-project"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--no-rustc", action="store_true", help="skip the per-file rustc check")
    parser.add_argument("--edition", default="2021")
    parser.add_argument("--min-percent", type=float, default=85.0)
    parser.add_argument("--verbose", action="store_true", help="also list translated units")
    args = parser.parse_args(argv)

    files = list_sources(args.source, ["**/*.py"], [])
    with tempfile.TemporaryDirectory(prefix="check-sample-") as scratch:
        checker = None if args.no_rustc else RustcChecker("rustc", args.edition, Path(scratch))
        done = failed = 0
        reasons: Counter[str] = Counter()
        lines = 0
        for source in files:
            units = split_file(source.path, source.absolute, 4 * 1024 * 1024)
            for result in translate_file(units, [RulesBackend()], checker):
                unit = result.unit
                if result.failure is None:
                    done += 1
                    lines += unit.lines
                    if args.verbose:
                        print(f"ok      {unit.path}::{unit.name}")
                else:
                    failed += 1
                    reasons[result.failure.reason] += 1
                    print(
                        f"FAILED  {unit.path}::{unit.name}: {result.failure.reason}: {result.failure.message}"
                    )
    total = done + failed
    percent = 100.0 * done / total if total else 0.0
    print(
        f"files {len(files)}, units {total}: translated {done}, failed {failed} "
        f"({percent:.1f}% translated, {lines} code lines translated)"
    )
    if reasons:
        print("failures by reason: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
    return 0 if percent >= args.min_percent else 1


if __name__ == "__main__":
    sys.exit(main())
