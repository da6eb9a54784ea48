"""The translation memory: translations that passed the check, reused for near-duplicate units.

A unit's *signature* is the MinHash of its canonical code (the unit's own statements without
docstrings, comments, formatting or imports, as `ast.unparse` writes them), computed by the
`embedder` model on the pod's Triton (our MinHash kernel) or, without one, by the same kernel's NumPy
path in process (the same bits: the NumPy path is the kernel's test oracle). Entries are found by
locality-sensitive hashing over signature bands, then kept when their estimated Jaccard similarity is
at least `THRESHOLD` and the unit has the same name.

What a match offers is the unit's first candidate (the `memory` backend comes right after the exact
cache); like every candidate it is then checked by rustc with its file, and at assembly by the
differential check. One that fails moves the unit on to the normal translator: nothing is lost.
Three kinds of match, best first, each sound by construction rather than by luck:

- `exact`: the same cache key (the same normalised code and the same interfaces of what it uses):
  the entry's Rust as it is. This is the exact cache, across jobs.
- `body`: the same canonical code in another context (other imports, or a dependency whose
  interface changed, or another module): the entry's Rust as it is; rustc checks it against the new
  context.
- `types`: a near-duplicate whose code differs (a changed constant, an added branch): the entry's
  Rust would be wrong, so it is not used; the *types* its translation was accepted with (inferred
  by the rules or the type model) are written into this unit's own source, which the rules
  translator then translates. This skips the type model and the typings that rustc would reject.

Where the memory lives: within a job, the shard's own ledger (entries are rebuilt from it on
resume, so a resumed shard makes the same choices); across jobs, one file per finished job,
`<fp>.mem` in PORTALIS_MEMORY_DIR (the output PVC's `.portalis/memory`), written atomically by the
assembling shard with each unit's differential-check verdict: a unit whose translation mismatched
CPython is never stored. A shard reads the other jobs' files once when it starts and pins which (and
how many bytes) in its ledger, so a resumed shard sees the same memory. Entries carry a digest of the
translator's code: a memory written by another translator version is ignored.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from portalis_worker import metrics
from portalis_worker.backends import Outcome, RulesBackend
from portalis_worker.ledger import Record, encode_record, scan_bytes
from portalis_worker.units import Unit, strip_docstrings

LOG = logging.getLogger(__name__)

NAME = "memory"
THRESHOLD = 0.8
"""Estimated Jaccard similarity of two canonical codes above which they are near-duplicates."""
BANDS, ROWS = 32, 4
"""LSH: 32 bands of 4 rows find pairs with J >= 0.8 with probability > 0.999 (portalis_kernels.neardup)."""
NUM_PERM, SHINGLE, SEED = 128, 5, 1
"""MinHash parameters: those of model_repo/embedder (its config must keep them; signatures of other
parameters are not comparable). `SIGNATURE_CONFIG` goes into every entry."""
SIGNATURE_CONFIG = f"minhash-{NUM_PERM}-{SHINGLE}-{SEED}"
MAX_ENTRIES = 200_000
"""Entries read from other jobs at start, newest job first (about 1 KB of memory each)."""
SUFFIX = ".mem"

MatchKind = Literal["exact", "body", "types"]
TypesRecord = dict[str, dict[str, Any]]


class Signer(Protocol):
    """MinHash signatures `[B, NUM_PERM]` uint32 of texts (triton_client.TritonClient.minhash)."""

    def minhash(self, sources: Sequence[str]) -> NDArray[np.uint32]: ...


class LocalSigner:
    """The MinHash kernel in process (NumPy, or CUDA through cupy where a GPU is free)."""

    def minhash(self, sources: Sequence[str]) -> NDArray[np.uint32]:
        from portalis_kernels.minhash import MinHashConfig, minhash_signatures

        config = MinHashConfig(num_perm=NUM_PERM, shingle=SHINGLE, seed=SEED)
        return np.asarray(minhash_signatures(list(sources), config), dtype=np.uint32)


class FallbackSigner:
    """The embedder on the pod's Triton; the kernel in process when the server does not answer (the
    memory never fails a shard). `served`/`local` count the texts each one signed."""

    def __init__(self, remote: Signer, local: Signer | None = None) -> None:
        self.remote = remote
        self.local = local or LocalSigner()
        self.served = 0
        self.local_count = 0

    def minhash(self, sources: Sequence[str]) -> NDArray[np.uint32]:
        if not sources:
            return np.zeros((0, NUM_PERM), dtype=np.uint32)
        try:
            sigs = np.asarray(self.remote.minhash(sources), dtype=np.uint32)
            if sigs.shape == (len(sources), NUM_PERM):
                self.served += len(sources)
                metrics.MEMORY_SIGNATURES.labels(signer="embedder").inc(len(sources))
                return sigs
            LOG.warning("embedder answered signatures of another shape", extra={"shape": list(sigs.shape)})
        except Exception as exc:  # transport or model errors: the same bits come from the local kernel
            LOG.warning("embedder unavailable; signing in process", extra={"error": f"{type(exc).__name__}"})
        self.local_count += len(sources)
        metrics.MEMORY_SIGNATURES.labels(signer="local").inc(len(sources))
        return self.local.minhash(sources)


@cache
def translator_digest() -> str:
    """A digest of the worker's code (every .py and .rs of the package): what produced a translation.
    Any change to the translator, the type inference or the support crate gives a new memory."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(
        p for p in root.rglob("*") if p.suffix in (".py", ".rs") and "__pycache__" not in p.parts
    ):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Canonical:
    """A unit's code for the memory: `text` (what is signed) and `body` (its digest)."""

    text: str
    body: str


def canonical(source: str) -> Canonical | None:
    """The unit's own statements, imports and docstrings left out, as `ast.unparse` writes them; None
    when the source does not parse (such a unit never reaches a translation)."""
    try:
        tree = ast.parse(source)
        strip_docstrings(tree)
        body = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)]
        module = ast.Module(body=body, type_ignores=[])
        text = ast.unparse(module)
        dump = ast.dump(module, include_attributes=False)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return Canonical(text, hashlib.sha256(dump.encode("utf-8", "surrogatepass")).hexdigest()[:32])


def encode_signature(sig: NDArray[np.uint32]) -> str:
    return base64.b64encode(np.asarray(sig, dtype="<u4").tobytes()).decode("ascii")


def decode_signature(text: str) -> NDArray[np.uint32] | None:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != 4 * NUM_PERM:
        return None
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


def rust_digest(rust: str) -> str:
    return hashlib.sha256(rust.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    """One translation that passed the check: what it translated, how, and where it came from."""

    key: str
    body: str
    name: str
    rust: str
    signature: NDArray[np.uint32] = field(compare=False)
    types: TypesRecord | None = None
    job: str = ""
    path: str = ""
    state: str = "compiled"
    """`verified` (the differential check agreed with CPython) or `compiled`."""

    def as_record(self) -> Record:
        record: Record = {
            "kind": "entry",
            "translator": translator_digest(),
            "signing": SIGNATURE_CONFIG,
            "key": self.key,
            "body": self.body,
            "name": self.name,
            "rust": self.rust,
            "sig": encode_signature(self.signature),
            "job": self.job,
            "path": self.path,
            "state": self.state,
        }
        if self.types:
            record["types"] = self.types
        return record

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> Entry | None:
        """The entry of a memory record; None for another translator, another signing, or a bad one."""
        if record.get("kind") != "entry" or record.get("translator") != translator_digest():
            return None
        if record.get("signing") != SIGNATURE_CONFIG:
            return None
        fields = [record.get(k) for k in ("key", "body", "name", "rust", "sig")]
        if not all(isinstance(v, str) for v in fields):
            return None
        sig = decode_signature(str(record["sig"]))
        if sig is None:
            return None
        types = record.get("types")
        return cls(
            key=str(record["key"]),
            body=str(record["body"]),
            name=str(record["name"]),
            rust=str(record["rust"]),
            signature=sig,
            types=types if isinstance(types, dict) and types else None,
            job=str(record.get("job", "")),
            path=str(record.get("path", "")),
            state=str(record.get("state", "compiled")),
        )


@dataclass(frozen=True)
class Match:
    entry: Entry
    kind: MatchKind
    similarity: float

    def as_record(self) -> Record:
        """The ledger's `memory` field of a unit served from the memory."""
        return {
            "match": self.kind,
            "similarity": round(self.similarity, 3),
            "job": self.entry.job,
            "path": self.entry.path,
            "unit": self.entry.name,
            "state": self.entry.state,
        }


def _bands(sig: NDArray[np.uint32]) -> list[bytes]:
    rows = np.asarray(sig, dtype="<u4").reshape(BANDS, ROWS)
    return [bytes([b]) + rows[b].tobytes() for b in range(BANDS)]


class MemoryIndex:
    """Entries by exact key, by (name, body) and by LSH band; pure (no I/O).

    Lookup prefers `exact`, then `body`, then `types`; within a kind, verified entries, then the most
    similar, then the one added first (so the choice does not depend on what was added later)."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._entries: list[Entry] = []
        self._by_key: dict[str, list[int]] = {}
        self._by_body: dict[tuple[str, str], list[int]] = {}
        self._by_band: dict[bytes, list[int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        i = len(self._entries)
        self._entries.append(entry)
        self._by_key.setdefault(entry.key, []).append(i)
        self._by_body.setdefault((entry.name, entry.body), []).append(i)
        for band in _bands(entry.signature):
            self._by_band.setdefault(band, []).append(i)

    def _best(self, indices: Iterable[int]) -> int | None:
        ranked = sorted(indices, key=lambda i: (self._entries[i].state != "verified", i))
        return ranked[0] if ranked else None

    def lookup(self, key: str, name: str, body: str, signature: NDArray[np.uint32]) -> Match | None:
        best = self._best(self._by_key.get(key, ()))
        if best is not None:
            return Match(self._entries[best], "exact", 1.0)
        best = self._best(self._by_body.get((name, body), ()))
        if best is not None:
            return Match(self._entries[best], "body", 1.0)
        candidates = {i for band in _bands(signature) for i in self._by_band.get(band, ())}
        scored: list[tuple[bool, float, int]] = []
        for i in candidates:
            entry = self._entries[i]
            if entry.name != name or not entry.types:
                continue
            similarity = float(np.mean(entry.signature == signature))
            if similarity >= self.threshold:
                scored.append((entry.state != "verified", -similarity, i))
        if not scored:
            return None
        _, neg, i = min(scored)
        return Match(self._entries[i], "types", -neg)


def apply_types(source: str, types: Mapping[str, Mapping[str, Any]]) -> str | None:
    """`source` with the recorded types written into its unannotated parameters and returns (a
    `function.param` / `function.<return>` record, typed_rules.TypesRecord); None when none applies."""
    from portalis_worker.typeinfer import RETURN, Candidate, Slot, annotate
    from portalis_worker.typeinfer.inference import functions
    from portalis_worker.typeinfer.terms import of_annotation

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    chosen: dict[Slot, Candidate] = {}
    for qualname, func, params in functions(tree):
        args = {a.arg: a for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
        for slot_name in [*params, RETURN]:
            recorded = types.get(f"{qualname}.{slot_name}")
            if recorded is None:
                continue
            if slot_name == RETURN and func.returns is not None:
                continue
            if slot_name != RETURN and args[slot_name].annotation is not None:
                continue
            try:
                term = of_annotation(ast.parse(str(recorded.get("type", "")), mode="eval").body)
            except (SyntaxError, ValueError, RecursionError):
                continue
            if term.complete:
                chosen[Slot(qualname, slot_name)] = Candidate(term, 1.0, "usage")
    if not chosen:
        return None
    return annotate(tree, chosen)


@dataclass(frozen=True)
class Served:
    """What the memory offered a unit: the match, and the types its translation was given (written in
    for a `types` match; the entry's own for the same code)."""

    match: Match
    types: TypesRecord | None = None


class MemoryBackend(RulesBackend):
    """The first backend after the exact cache: a unit's near-duplicate's translation, or its types.

    Bound to the package like the rules backend (a `types` match is translated by the rules). The
    within-job part is added to by the worker as units are committed (`remember`), in commit order."""

    name = NAME

    def __init__(self, signer: Signer, index: MemoryIndex | None = None, job: str = "") -> None:
        super().__init__()
        self.signer = signer
        self.index = index if index is not None else MemoryIndex()
        self.job = job
        self._signatures: dict[str, tuple[Canonical, NDArray[np.uint32]]] = {}
        self._served: dict[str, Served] = {}
        self.seconds = 0.0
        """Time spent signing and looking up (what the memory costs)."""

    def sign(self, units: Sequence[Unit]) -> None:
        """Signatures of `units` not signed yet: one request to the signer for all of them."""
        todo = [(u, c) for u in units if u.id not in self._signatures and (c := canonical(u.source))]
        if not todo:
            return
        sigs = self.signer.minhash([c.text for _, c in todo])
        if not isinstance(self.signer, FallbackSigner):
            metrics.MEMORY_SIGNATURES.labels(signer="local").inc(len(todo))
        for (unit, can), sig in zip(todo, sigs, strict=True):
            self._signatures[unit.id] = (can, np.asarray(sig, dtype=np.uint32))

    def signature(self, unit_id: str) -> tuple[Canonical, NDArray[np.uint32]] | None:
        return self._signatures.get(unit_id)

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        started = time.perf_counter()
        try:
            self.sign(units)
            return [self._offer(u) for u in units]
        finally:
            self.seconds += time.perf_counter() - started

    def _offer(self, unit: Unit) -> Outcome:
        signed = self._signatures.get(unit.id)
        if signed is None:
            return None
        can, sig = signed
        match = self.index.lookup(unit.key, unit.name, can.body, sig)
        if match is None:
            return None
        metrics.MEMORY_MATCHES.labels(match=match.kind).inc()
        if match.kind != "types":  # the same code: the entry's types (if any) are this unit's too
            self._served[unit.id] = Served(match, match.entry.types)
            return match.entry.rust
        typed = apply_types(unit.source, match.entry.types or {})
        if typed is None:
            return None
        outcome = self._one(dataclasses.replace(unit, source=typed))
        if isinstance(outcome, str):
            self._served[unit.id] = Served(match, match.entry.types)
            return outcome
        return None  # the types do not fit this unit: the normal translator, as if there were no match

    def take(self, unit_id: str) -> Served | None:
        """What the memory offered `unit_id` last (None: nothing); forgets it."""
        return self._served.pop(unit_id, None)

    def remember(self, record: Mapping[str, Any]) -> None:
        """Add a translated unit's ledger record (with its `sig` and `body`) to the within-job memory."""
        entry = entry_of_unit_record(record, self.job)
        if entry is not None:
            self.index.add(entry)


def entry_of_unit_record(record: Mapping[str, Any], job: str, state: str = "compiled") -> Entry | None:
    """The memory entry of a translated ledger record that carries a signature; None otherwise."""
    if record.get("status") != "translated" or not isinstance(record.get("rust"), str):
        return None
    sig = decode_signature(str(record.get("sig", "")))
    body = record.get("body")
    if sig is None or not isinstance(body, str):
        return None
    types = record.get("types")
    return Entry(
        key=str(record.get("key", "")),
        body=body,
        name=str(record.get("name", "")),
        rust=str(record["rust"]),
        signature=sig,
        types=types if isinstance(types, dict) and types else None,
        job=job,
        path=str(record.get("path", "")),
        state=state,
    )


# ---- the memory directory: one file per finished job --------------------------------------------


def pin_files(memory_dir: Path, own: str) -> dict[str, int]:
    """The other jobs' memory files now, newest first, with their sizes: what a shard pins at start."""
    try:
        paths = [p for p in memory_dir.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith(own)]
    except OSError:
        return {}
    stats = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        stats.append((st.st_mtime, p.name, st.st_size))
    return {name: size for _, name, size in sorted(stats, key=lambda s: (-s[0], s[1]))}


def load_pinned(memory_dir: Path, pinned: Mapping[str, int], limit: int = MAX_ENTRIES) -> MemoryIndex:
    """An index of the pinned files' entries (each read up to its pinned size; a file gone since is
    skipped), at most `limit` entries."""
    index = MemoryIndex()
    for name, size in pinned.items():
        if len(index) >= limit:
            break
        try:
            with open(memory_dir / name, "rb") as f:
                data = f.read(size)
        except OSError:
            continue
        for record in scan_bytes(data).records:
            entry = Entry.of_record(record)
            if entry is not None and len(index) < limit:
                index.add(entry)
    return index


def job_entries(
    units: Iterable[Mapping[str, Any]], verdicts: Mapping[str, Mapping[str, Any]], job: str
) -> list[Entry]:
    """A finished job's entries: its translated units with a signature, each with its differential
    check's state; a unit whose translation mismatched CPython (or failed to run) is left out."""
    out = []
    for record in units:
        verdict = verdicts.get(str(record.get("id")))
        state = str(verdict["state"]) if verdict is not None else "compiled"
        if state not in ("verified", "unverifiable", "compiled"):
            continue
        entry = entry_of_unit_record(record, job, "verified" if state == "verified" else "compiled")
        if entry is not None:
            out.append(entry)
    return out


def write_job_file(memory_dir: Path, fp: str, entries: Sequence[Entry]) -> Path | None:
    """Write `<fp>.mem` atomically (a temporary file, fsync, rename): every assembling shard of the
    job writes the same bytes, and a reader never sees a partial file."""
    if not entries:
        return None
    memory_dir.mkdir(parents=True, exist_ok=True)
    target = memory_dir / f"{fp}{SUFFIX}"
    tmp = memory_dir / f".{fp}.{os.getpid()}.tmp"
    data = b"".join(encode_record(e.as_record()) for e in entries)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fd = os.open(memory_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def save_job_memory(memory_dir: Path, fp: str, entries: Sequence[Entry]) -> str | None:
    """`write_job_file`, for the assembling shard: the memory only speeds later jobs up, so a directory
    the worker cannot write (a subPath the kubelet created owned by root, a full or read-only volume)
    costs the memory, never the crate. The reason when it was not written, else None."""
    try:
        write_job_file(memory_dir, fp, entries)
    except OSError as e:
        metrics.MEMORY_WRITE_FAILURES.inc()
        reason = f"{type(e).__name__}: {e}"
        LOG.warning("translation memory not written; the crate is not affected", extra={"reason": reason})
        return reason
    return None
