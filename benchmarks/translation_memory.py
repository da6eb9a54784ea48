"""The translation memory on real duplication: several released versions of one package, in order.

    .venv/bin/python benchmarks/translation_memory.py [--smoke] [--out FILE]

Each version (sdists pinned in translation_memory.lock, downloaded like real_corpus.py's) is
translated twice in the same run, interleaved so that the machine's load falls on both alike, by one
worker shard exactly as a `backend: rules` TranslationJob runs it (package index, cache, rules and
rules+types, rustc check per file, ledger, assembly with the differential check):

- cold: no memory (each version alone, as before the memory existed);
- warm: with a translation memory directory shared by the versions, in release order (the first
  version fills it; each later one reads the memory of all earlier ones, and its own within-job
  near-duplicates).

Figures for the versions after the first: the share of units served from the memory (by kind of
match), the worker's time (translation and rustc check) and the assembly's (differential check)
warm vs cold, and what each crate holds warm vs cold (translated, verified, mismatched units), so a
memory that lost work would show. Signatures come from the MinHash kernel in process (NumPy here),
the same bits that the embedder on Triton returns.

`--smoke`: the two smallest versions (inflection 0.5.0 -> 0.5.1), written only to `--out`.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import real_corpus
import reporting

from portalis_worker.assignment import Assignment, load_assignment
from portalis_worker.backends import Backend, CacheBackend, RulesBackend
from portalis_worker.ledger import LocalFileStore, first_wins, read_shard_ledgers
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.memory import LocalSigner, MemoryBackend
from portalis_worker.progress import NullReporter
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources
from portalis_worker.typed_rules import InferredTypes, ranked_backends

HERE = Path(__file__).resolve().parent
NAME = "translation_memory"
LOCK = HERE / "translation_memory.lock"
SMOKE = ("inflection",)


@dataclass
class Run:
    version: str
    seconds: float
    assemble_seconds: float
    memory_seconds: float
    units: int
    translated: int
    verified: int
    mismatch: int
    served: Counter[str]
    checks: int


class CountingChecker(RustcChecker):
    """The worker's rustc check, counting its runs (a file's rounds, and the package check's)."""

    runs = 0

    def check_module(self, module: Any) -> dict[str, str]:
        self.runs += 1
        return super().check_module(module)


def job(work: Path, source: Path, crate: str, memory_dir: Path | None) -> Assignment:
    env = {
        "PORTALIS_JOB_NAME": crate,
        "PORTALIS_JOB_UID": f"{crate}-{work.name}",
        "PORTALIS_SHARD_INDEX": "0",
        "PORTALIS_SHARD_COUNT": "1",
        "PORTALIS_BACKEND": "rules",
        "PORTALIS_CRATE_NAME": crate,
        "PORTALIS_SOURCE_DIR": str(source),
        "PORTALIS_OUTPUT_DIR": str(work / "out"),
        "PORTALIS_LEDGER_DIR": str(work / "ledger"),
        "PORTALIS_SCRATCH_DIR": str(work / "scratch"),
        "PORTALIS_RUST_CHECK": "true",
        "PORTALIS_METRICS_PORT": "0",
    }
    if memory_dir is not None:
        env["PORTALIS_MEMORY_DIR"] = str(memory_dir)
    return load_assignment(env)


def translate(work: Path, source: Path, crate: str, memory_dir: Path | None) -> Run:
    """One shard as main.run_shard builds it for `backend: rules` (with or without a memory)."""
    a = job(work, source, crate, memory_dir)
    cache = CacheBackend()
    inferred = InferredTypes()
    memory = MemoryBackend(LocalSigner(), job=crate) if memory_dir is not None else None
    first: list[Backend] = [cache] if memory is None else [cache, memory]
    chain: list[Backend] = [*first, RulesBackend(), *ranked_backends(inferred)]
    checker = CountingChecker("rustc", a.rust_edition, a.scratch_dir)
    store = LocalFileStore(a.ledger_dir / "shard-0.ledger")
    worker = Worker(a, store, chain, cache, checker, NullReporter(), inferred=inferred, memory=memory)
    started = time.perf_counter()
    finished = worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    seconds = time.perf_counter() - started
    store.close()
    started = time.perf_counter()
    if not finished or not assemble_if_complete(a, source):
        raise SystemExit(f"{crate}: the crate was not assembled")
    assemble_seconds = time.perf_counter() - started
    records: list[dict[str, Any]] = []
    for _, shard_records in read_shard_ledgers(a.ledger_dir, 1):
        records.extend(shard_records)
    units = list(first_wins(records).values())
    report = reporting_of(a.output_dir / crate / "translation_report.json")
    served = Counter(str(u["memory"]["match"]) for u in units if isinstance(u.get("memory"), dict))
    return Run(
        crate,
        seconds,
        assemble_seconds,
        memory.seconds if memory is not None else 0.0,
        len(units),
        sum(1 for u in units if u.get("status") == "translated"),
        int(report["units"]["verified"]),
        int(report["units"]["mismatch"]),
        served,
        checker.runs,
    )


def reporting_of(path: Path) -> dict[str, Any]:
    import json

    return dict(json.loads(path.read_text()))


def sources(pins: list[real_corpus.Pinned], base: Path) -> list[tuple[str, Path]]:
    out = []
    for pin in pins:
        root = real_corpus.extract(real_corpus.download(pin), base / "sdist" / pin.version)
        src = base / "src" / pin.version
        src.mkdir(parents=True)
        if not real_corpus.import_packages(root, src):
            raise SystemExit(f"{pin.name} {pin.version}: no import package")
        out.append((f"{pin.name}-{pin.version}".replace(".", "_").replace("-", "_"), src))
    return out


def best(runs: list[Run]) -> Run:
    """The first run's counts (every repeat translates alike) with the fastest times of all."""
    return dataclasses.replace(
        runs[0],
        seconds=min(r.seconds for r in runs),
        assemble_seconds=min(r.assemble_seconds for r in runs),
        memory_seconds=min(r.memory_seconds for r in runs),
    )


def measure(pins: list[real_corpus.Pinned], base: Path, repeats: int) -> tuple[list[Run], list[Run]]:
    """Cold and warm runs of each version, `repeats` times each, interleaved; each warm repeat reads a
    copy of the memory as the earlier versions left it, and the first one's file is kept for the next."""
    memory_dir = base / "memory"
    memory_dir.mkdir()
    cold: list[Run] = []
    warm: list[Run] = []
    for i, (crate, src) in enumerate(sources(pins, base)):
        runs: dict[str, list[Run]] = {"cold": [], "warm": []}
        for rep in range(repeats):
            # alternating which goes first, so that the load of this shared machine falls on both alike
            modes = ["cold", "warm"] if (i + rep) % 2 == 0 else ["warm", "cold"]
            for mode in modes:
                mem = None
                if mode == "warm":
                    mem = base / "memories" / f"{crate}-{rep}"
                    shutil.copytree(memory_dir, mem)
                run = translate(base / mode / f"{crate}-{rep}", src, crate, mem)
                runs[mode].append(run)
                print(
                    f"{crate} {mode} #{rep}: {run.units} units, {run.translated} translated, "
                    f"{run.verified} verified, {sum(run.served.values())} from memory {dict(run.served)}, "
                    f"{run.checks} rustc runs, {run.seconds:.1f} s + assembly {run.assemble_seconds:.1f} s",
                    flush=True,
                )
        for new in (base / "memories" / f"{crate}-0").glob("*.mem"):
            if not (memory_dir / new.name).exists():
                shutil.copy2(new, memory_dir / new.name)
        cold.append(best(runs["cold"]))
        warm.append(best(runs["warm"]))
    return cold, warm


def records(pins: list[real_corpus.Pinned], cold: list[Run], warm: list[Run]) -> list[dict[str, Any]]:
    r = reporting.record
    later_c, later_w = cold[1:], warm[1:]
    names = f"{pins[0].name} {', '.join(p.version for p in pins)}"
    after = f"{pins[0].name} {', '.join(p.version for p in pins[1:])} (each after the versions before it)"
    units = sum(x.units for x in later_w)
    served = Counter[str]()
    for x in later_w:
        served.update(x.served)
    total_served = sum(served.values())
    translated_w = sum(x.translated for x in later_w)
    cold_s = sum(x.seconds for x in later_c)
    warm_s = sum(x.seconds for x in later_w)
    same_run = "the same versions without a memory, same run, interleaved, best of the repeats"
    out = [
        r(
            "units_served_from_memory_share",
            100.0 * total_served / units if units else 0.0,
            "% of units",
            f"{total_served} of {units} units of {after}; without a memory: 0",
        ),
        r(
            "translated_units_served_from_memory_share",
            100.0 * total_served / translated_w if translated_w else 0.0,
            "% of translated units",
            f"{total_served} of {translated_w} translated units of {after}",
        ),
        *[
            r(
                f"units_served_from_memory_{kind}",
                float(served[kind]),
                "units",
                f"{after}: match kind {kind} (memory.py)",
            )
            for kind in ("exact", "body", "types")
        ],
        r(
            "worker_seconds_with_memory",
            warm_s,
            "s",
            f"{cold_s:.1f} s without a memory ({same_run}); translation and rustc check, assembly apart",
        ),
        r(
            "worker_time_saved",
            100.0 * (cold_s - warm_s) / cold_s if cold_s else 0.0,
            "% of worker time",
            f"{same_run}: {cold_s:.1f} s -> {warm_s:.1f} s",
        ),
        r(
            "memory_overhead_seconds",
            sum(x.memory_seconds for x in later_w),
            "s",
            "signing (MinHash kernel, NumPy) and lookups, inside worker_seconds_with_memory",
        ),
        r(
            "assembly_seconds_with_memory",
            sum(x.assemble_seconds for x in later_w),
            "s",
            f"{sum(x.assemble_seconds for x in later_c):.1f} s without a memory ({same_run}): the"
            " differential check is not skipped",
        ),
        r(
            "translated_units_with_memory",
            float(translated_w),
            "units",
            f"{sum(x.translated for x in later_c)} without a memory ({same_run})",
        ),
        r(
            "verified_units_with_memory",
            float(sum(x.verified for x in later_w)),
            "units",
            f"{sum(x.verified for x in later_c)} without a memory ({same_run})",
        ),
        r(
            "mismatched_units_with_memory",
            float(sum(x.mismatch for x in later_w)),
            "units",
            f"{sum(x.mismatch for x in later_c)} without a memory ({same_run})",
        ),
        r(
            "first_version_units_served_within_the_job",
            float(sum(warm[0].served.values())),
            "units",
            f"of {warm[0].units} units of {pins[0].name} {pins[0].version} (no earlier memory): "
            "near-duplicates inside the package",
        ),
        r(
            "rustc_checks_with_memory",
            float(sum(x.checks for x in later_w)),
            "rustc runs",
            f"{sum(x.checks for x in later_c)} without a memory ({same_run}): every file is still checked",
        ),
        {
            "metric": "corpus",
            "value": names,
            "unit": "versions",
            "compared_with": "released versions of one package, from PyPI, digests pinned",
        },
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    reporting.add_arguments(parser, NAME)
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    parser.add_argument("--repeats", type=int, default=None, help="runs per version and mode (3; smoke: 1)")
    parser.add_argument("--package", default=None, help="another package of the lock (writes only to --out)")
    args = parser.parse_args()
    pins = real_corpus.read_lock(LOCK)
    package = args.package or (SMOKE[0] if args.smoke else pins[0].name)
    if args.package is not None and args.out is None and not args.smoke:
        raise SystemExit("--package measures another corpus: give --out")
    pins = [p for p in pins if p.name == package]
    if len(pins) < 2:
        raise SystemExit(f"{LOCK.name}: fewer than two versions of {package}")
    base = args.keep or Path(tempfile.mkdtemp(prefix="portalis-memory-bench-"))
    try:
        repeats = args.repeats or (1 if args.smoke else 3)
        cold, warm = measure(pins, base, repeats)
        out = records(pins, cold, warm)
        for rec in out:
            print(rec, flush=True)
        reporting.write(NAME, out, args.out, args.smoke)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
