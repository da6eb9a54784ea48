"""The shard's main loop: plan, resume from the ledger, translate file by file, finish, assemble.

Ledger records (JSON objects; see ledger.py for the framing):
- `header`: `{kind, fp, shard, commit?}` first in every ledger; `fp` is the assignment's fingerprint.
  A ledger whose header has another fingerprint belongs to another job and is moved aside.
- `memory`: `{kind, files, translator}` with a translation memory (memory.py): the other jobs' memory
  files this shard read and their sizes, pinned on its first start so that a resumed shard reads the
  same, and the digest of the translator that read them (entries of another one are ignored).
- `unit`: `{kind, id, key, path, name, order, lines, status: translated|failed, backend, rust,
  types?, memory?, body?, sig? | reason+message}` (`types`: what type inference wrote in,
  typed_rules.py; `memory`: the match a unit was served from, `body` and `sig`: its canonical code's
  digest and MinHash signature, with a translation memory), appended whole files at a time in one
  durable write (group commit; see `Worker.commit_window`).
- `done`: `{kind, fp, shard, files, units}` once every unit of the shard is recorded.

Assembly: after writing `done`, the shard reads every shard's ledger; when all have a `done` record
with its fingerprint, it assembles the crate. Every shard does this, so the last one to finish always
sees all done (it wrote its own `done` after the others wrote theirs); two finishing together both
assemble the same bytes, and publishing is idempotent. `portalis-worker assemble` runs the same step.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from portalis_worker import metrics
from portalis_worker.assignment import Assignment
from portalis_worker.backends import Backend, CacheBackend, RulesBackend, cache_from_records
from portalis_worker.crate import CrateInputs, publish, render, render_report
from portalis_worker.import_values import load as load_import_values
from portalis_worker.ledger import CheckpointStore, Record, first_wins, read_shard_ledgers
from portalis_worker.memory import (
    Canonical,
    MemoryBackend,
    Served,
    encode_signature,
    job_entries,
    load_pinned,
    pin_files,
    save_job_memory,
    translator_digest,
)
from portalis_worker.package_check import PackageChecker
from portalis_worker.package_index import PackageIndex
from portalis_worker.pipeline import Result, Stopped, translate_file
from portalis_worker.progress import Progress, ProgressReporter
from portalis_worker.protocol import ResultReport
from portalis_worker.result import crate_builds, result_of
from portalis_worker.rules.emitter import format_rust
from portalis_worker.rules.package_scope import PackageTranslator
from portalis_worker.rustcheck import Checker, RustcChecker
from portalis_worker.sharding import shard_of
from portalis_worker.sources import SourceFile
from portalis_worker.typed_rules import NAME as TYPED_RULES
from portalis_worker.typed_rules import InferredTypes, TypesRecord, typed_for_index
from portalis_worker.units import Unit, file_failure, read_text, split_file
from portalis_worker.verify import Verifier

LOG = logging.getLogger(__name__)

MIN_COMMIT_WINDOW = 0.0
MAX_COMMIT_WINDOW = 1.0


def build_index(files: Sequence[SourceFile], max_bytes: int, import_values: bool = False) -> PackageIndex:
    """The package index of the whole source (every shard builds the same one), with the rules' best
    inferred types written into untyped definitions (typed_rules.typed_for_index), and, with
    `import_values`, the values after import of the constants that module code changes (this
    imports the package's modules: import_values.py)."""
    texts: dict[str, str] = {}
    for f in files:
        if not f.escapes and (text := read_text(f.absolute, max_bytes)) is not None:
            texts[f.path] = typed_for_index(text)
    index = PackageIndex.build(texts)
    if import_values and (root := source_root(files)) is not None:
        load_import_values(index, root)
    return index


def source_root(files: Sequence[SourceFile]) -> Path | None:
    """The directory the files' relative paths start from."""
    for f in files:
        if not f.escapes:
            parts = len(PurePosixPath(f.path).parts)
            return f.absolute.parents[parts - 1]
    return None


def plan_shard(
    files: Sequence[SourceFile],
    shard: int,
    shard_count: int,
    max_bytes: int,
    index: PackageIndex | None = None,
) -> list[list[Unit]]:
    """The units of this shard's files, file by file, in path order."""
    planned: list[list[Unit]] = []
    for f in files:
        if shard_of(f.path, shard_count) != shard:
            continue
        if f.escapes:
            escape = file_failure(f.path, "path-escape", "resolves outside the source root", "escape")
            planned.append([escape])
        else:
            planned.append(split_file(f.path, f.absolute, max_bytes, index))
    return planned


def unit_record(
    result: Result,
    types: TypesRecord | None = None,
    without_model: bool = False,
    signed: tuple[Canonical, Any] | None = None,
    served: Served | None = None,
) -> Record:
    """`types`: the types inference wrote into the unit's accepted translation, and how each was found;
    `without_model`: they were inferred without the type model, whose server was gone
    (`spec.model.fallback: rules`, model_server.py); `signed`: the unit's canonical code and MinHash
    signature (memory.py), kept with a translated unit; `served`: the memory's match, when the
    accepted translation came from the translation memory."""
    unit = result.unit
    record: Record = {
        "kind": "unit",
        "id": unit.id,
        "key": unit.key,
        "path": unit.path,
        "name": unit.name,
        "order": unit.order,
        "lines": unit.lines,
        "time": round(time.time(), 3),
    }
    if unit.deps:
        record["deps"] = list(unit.deps)
    if result.failure is None:
        record.update(status="translated", backend=result.backend, rust=result.rust)
        if signed is not None:
            record.update(body=signed[0].body, sig=encode_signature(signed[1]))
        if served is not None:
            record["memory"] = served.match.as_record()
            types = types or served.types
        if types:
            record["types"] = types
            if without_model:
                record["model"] = "unavailable"
    else:
        record.update(
            status="failed",
            backend=result.backend,
            reason=result.failure.reason,
            message=result.failure.message,
        )
    return record


@dataclass
class ShardState:
    total: int = 0
    done: int = 0
    failed: int = 0
    last_checkpoint: float | None = None

    def progress(self) -> Progress:
        return Progress(self.total, self.done, self.failed, self.last_checkpoint)


@dataclass
class Worker:
    assignment: Assignment
    store: CheckpointStore
    chain: Sequence[Backend]
    cache: CacheBackend
    checker: Checker | None
    reporter: ProgressReporter
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    state: ShardState = field(default_factory=ShardState)
    redone: list[str] = field(default_factory=list)
    """Ids of units translated by this run (tests check no unit is done twice across a crash)."""
    _last_report: float = float("-inf")
    _pending: list[Record] = field(default_factory=list)
    _last_flush: float = field(default_factory=time.monotonic)
    _append_seconds: float = 0.0
    inferred: InferredTypes | None = None
    """The typings the chain's `rules+types` backends offered (typed_rules.py), for the records."""
    memory: MemoryBackend | None = None
    """The translation memory (memory.py), in the chain after the cache; None: no memory."""

    def open_ledger(self, commit: str | None = None) -> dict[str, Record]:
        """Unit records already in this shard's ledger; starts a fresh one for another job's ledger."""
        fp = self.assignment.fingerprint()
        records = self.store.read()
        header = next((r for r in records if r.get("kind") == "header"), None)
        if header is not None and header.get("fp") != fp:
            LOG.warning(
                "ledger belongs to another job or configuration; moving it aside",
                extra={"found": header.get("fp"), "expected": fp},
            )
            self.store.discard("stale")
            records, header = [], None
        if header is None:
            head: Record = {"kind": "header", "fp": fp, "shard": self.assignment.shard_index}
            if commit is not None:
                head["commit"] = commit
            self.store.append([head])
        self._open_memory(records)
        return first_wins(records)

    def _open_memory(self, records: list[Record]) -> None:
        """Load the other jobs' memory files pinned in the ledger; pin them on the first start."""
        memory_dir = self.assignment.memory_dir
        if self.memory is None or memory_dir is None:
            return
        pin = next((r for r in records if r.get("kind") == "memory"), None)
        if pin is None or not isinstance(pin.get("files"), dict):
            files = pin_files(memory_dir, self.assignment.fingerprint())
            pin = {"kind": "memory", "files": files, "translator": translator_digest()}
            self.store.append([pin])
        files = {str(k): int(v) for k, v in pin["files"].items() if isinstance(v, int)}
        self.memory.index = load_pinned(memory_dir, files)
        LOG.info("translation memory", extra={"files": len(files), "entries": len(self.memory.index)})

    def run(self, files: Sequence[SourceFile], existing: dict[str, Record]) -> bool:
        """Translate every unit of the shard not in `existing`. True when the shard finished."""
        a = self.assignment
        # The check's differential step imports the tenant's modules; so do import-time values.
        index = build_index(files, a.max_file_bytes, import_values=a.rust_check)
        self._bind_package(index)
        plan = plan_shard(files, a.shard_index, a.shard_count, a.max_file_bytes, index)
        self.cache.entries.update(
            {k: v for k, v in cache_from_records(existing).items() if k not in self.cache.entries}
        )
        if self.memory is not None:  # the within-job memory, as the ledger has it (in commit order)
            for done in existing.values():
                self.memory.remember(done)
        all_units = [u for units in plan for u in units]
        self.state.total = len(all_units)
        for unit in all_units:
            record = existing.get(unit.id)
            if record is not None:
                if record.get("status") == "translated":
                    self.state.done += 1
                else:
                    self.state.failed += 1
        LOG.info(
            "shard planned",
            extra={
                "files": len(plan),
                "units": self.state.total,
                "resumed": self.state.done + self.state.failed,
            },
        )
        self._report(force=True)
        try:
            for units in plan:
                if self.stop.is_set():
                    return False
                pending = [u for u in units if u.id not in existing]
                if not pending:
                    continue
                context = [
                    (u.order, str(existing[u.id]["rust"]))
                    for u in units
                    if u.id in existing and existing[u.id].get("status") == "translated"
                ]
                results = translate_file(pending, self.chain, self.checker, context, self.stop.is_set)
                self._commit(results, existing)
        except Stopped:
            return False
        finally:
            self.flush()
            self._report(force=True)
        self.store.append(
            [
                {
                    "kind": "done",
                    "fp": a.fingerprint(),
                    "shard": a.shard_index,
                    "files": sorted({u.path for u in all_units}),
                    "units": len(all_units),
                }
            ]
        )
        return True

    def _bind_package(self, index: PackageIndex) -> None:
        """Translate and check at package scope: the rules backend gets the index, and the rustc
        check of a file includes the definitions of other modules that its units `use`."""
        translator = PackageTranslator(index)
        for backend in self.chain:
            if isinstance(backend, RulesBackend):
                backend.package = translator
        if isinstance(self.checker, RustcChecker):
            paths = {m.path: m.rust_path for m in index.modules.values()}
            self.checker = PackageChecker(
                self.checker,
                translator.translate_definition,
                lambda path: paths.get(path, ()),
                translator.definition_names,
            )

    def commit_window(self) -> float:
        """Seconds of finished work to gather before a durable append.

        Twenty times the last append's latency keeps the ledger (write + fsync) near 5% of run time
        whatever the disk; bounded so that a hard kill loses at most MAX_COMMIT_WINDOW of finished work.
        """
        return min(MAX_COMMIT_WINDOW, max(MIN_COMMIT_WINDOW, 20 * self._append_seconds))

    def flush(self) -> None:
        """Make every finished unit durable (group commit)."""
        if not self._pending:
            return
        started = time.monotonic()
        self.store.append(self._pending)
        self._pending = []
        self._last_flush = time.monotonic()
        self._append_seconds = self._last_flush - started
        self.state.last_checkpoint = self.clock()
        self._report()

    def _types(self, result: Result) -> TypesRecord | None:
        if self.inferred is None:
            return None
        types = self.inferred.take(result.unit.id)
        return types if result.translated and result.backend == TYPED_RULES else None

    def _memory_fields(self, result: Result) -> tuple[tuple[Canonical, Any] | None, Served | None]:
        """The unit's signature (translated units) and the memory's match (units it served)."""
        if self.memory is None:
            return None, None
        served = self.memory.take(result.unit.id)
        if not result.translated:
            return None, None
        return self.memory.signature(result.unit.id), served if result.backend == self.memory.name else None

    def _commit(self, results: list[Result], existing: dict[str, Record]) -> None:
        without = [self.inferred is not None and self.inferred.without_model(r.unit.id) for r in results]
        if self.memory is not None:
            self.memory.sign([r.unit for r in results if r.translated])
        records = [
            unit_record(r, self._types(r), w, *self._memory_fields(r))
            for r, w in zip(results, without, strict=True)
        ]
        if self.memory is not None:
            for record in records:
                self.memory.remember(record)
        self._pending.extend(records)
        for result, record in zip(results, records, strict=True):
            existing.setdefault(result.unit.id, record)
            self.redone.append(result.unit.id)
            backend = result.backend or "none"
            if result.translated:
                self.state.done += 1
                metrics.UNITS.labels(result="translated", backend=backend).inc()
                metrics.LINES.labels(backend=backend).inc(result.unit.lines)
                if result.rust is not None:
                    self.cache.remember(result.unit.key, result.rust)
            else:
                self.state.failed += 1
                metrics.UNITS.labels(result="failed", backend=backend).inc()
        if time.monotonic() - self._last_flush >= self.commit_window():
            self.flush()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_report >= self.assignment.checkpoint_interval_seconds:
            self._last_report = now
            self.reporter.report(self.state.progress())


def assemble_if_complete(
    assignment: Assignment,
    source_root: Path | None = None,
    publish_result: Callable[[ResultReport], None] | None = None,
) -> bool:
    """Assemble and publish the crate when every shard's ledger is done. True when all were done.

    With the source root (and the rustc check on), translated public functions are verified against
    CPython first (verify.py), and the report says which units are verified. Then, with
    `publish_result`, the crate is built with rustc and its result (result.py) is published."""
    fp = assignment.fingerprint()
    files: set[str] = set()
    records: list[Record] = []
    for shard, shard_records in read_shard_ledgers(assignment.ledger_dir, assignment.shard_count):
        done = [r for r in shard_records if r.get("kind") == "done" and r.get("fp") == fp]
        header = next((r for r in shard_records if r.get("kind") == "header"), None)
        if not done or header is None or header.get("fp") != fp:
            LOG.info("not assembling yet: a shard is not done", extra={"waiting_for": shard})
            return False
        files.update(str(p) for p in done[0].get("files", []))
        records.extend(shard_records)
    units: list[Mapping[str, Any]] = list(first_wins(records).values())
    inputs = CrateInputs(assignment.crate_name, assignment.rust_edition, sorted(files), units)
    crate = render(inputs, fmt=format_rust)
    verdicts: dict[str, dict[str, Any]] = {}
    if source_root is not None and assignment.rust_check:
        verdicts = _verify(assignment, crate, source_root, units, sorted(files))
        crate.update(render_report(inputs, verdicts))
    if assignment.memory_dir is not None:
        job = f"{assignment.job_namespace}/{assignment.job_name}"
        save_job_memory(assignment.memory_dir, fp, job_entries(units, verdicts, job))
    target = assignment.output_dir / assignment.crate_name
    changed = publish(crate, target)
    LOG.info(
        "crate assembled",
        extra={"crate": assignment.crate_name, "changed": changed, "files": len(crate), "units": len(units)},
    )
    if publish_result is not None:
        builds = (
            crate_builds(
                crate,
                assignment.crate_name,
                assignment.rustc,
                assignment.rust_edition,
                assignment.scratch_dir,
            )
            if assignment.rust_check
            else None
        )
        publish_result(result_of(crate, builds))
    return True


def _verify(
    assignment: Assignment,
    crate: Mapping[str, bytes],
    source_root: Path,
    units: Sequence[Mapping[str, Any]],
    files: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Unit id -> verdict record of the differential check, run on the rendered crate."""
    sources = {
        f: text for f in files if (text := read_text(source_root / f, assignment.max_file_bytes)) is not None
    }
    crate_ident = re.sub(r"[^A-Za-z0-9_]", "_", assignment.crate_name)
    assignment.scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portalis-crate-", dir=assignment.scratch_dir) as tmp:
        root = Path(tmp)
        for rel, content in crate.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        verifier = Verifier(assignment.rustc, assignment.rust_edition, assignment.scratch_dir)
        verdicts = verifier.verify(root, crate_ident, source_root, units, sources)
    counts = Counter(v.state for v in verdicts.values())
    LOG.info("differential check", extra={"crate": assignment.crate_name, **counts})
    return {uid: v.as_record() for uid, v in verdicts.items()}
