"""The checkpoint ledger: an append-only, checksummed, fsync'd log of finished units per shard.

Record framing (one record per line, UTF-8, ASCII-only JSON so a record never holds a raw newline)::

    <crc32 of the JSON bytes, 8 lowercase hex digits> <space> <JSON object> <LF>

A record counts only when it ends with LF and its checksum matches. So a write torn by a crash (a
missing LF, or bytes that never reached the disk) is ignored by every reader, and a writer that
opens the ledger truncates such a tail before appending, so the next record starts on a clean line.
A corrupt record in the middle (bit rot) is skipped with a warning; the unit it held is redone.
Records are never rewritten. Duplicate unit records are tolerated: the first one wins.

`CheckpointStore` is the port; `LocalFileStore` is the file implementation (a PVC path), and
`FsspecStore` writes one immutable object per append to any fsspec file system (S3-compatible
object storage), used only when fsspec is importable.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portalis_worker import metrics

LOG = logging.getLogger(__name__)

Record = dict[str, Any]
"""A ledger record: a JSON object. Unit records carry `kind: "unit"` and a unique `id`."""


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One framed line. Keys are sorted so equal records encode to equal bytes."""
    body = json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_record(line: bytes) -> Record | None:
    """The record of one line without its LF, or None when torn or corrupt."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    body = line[9:]
    if zlib.crc32(body) != crc:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Scan:
    """What a read of a ledger found: the complete records and where the last good one ends."""

    records: list[Record] = field(default_factory=list)
    valid_end: int = 0
    corrupt: int = 0
    """Complete lines (ending in LF) whose checksum or JSON was bad."""
    torn_tail: bool = False
    """Bytes after the last LF: a write that did not finish."""


def scan_bytes(data: bytes) -> Scan:
    scan = Scan()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            scan.torn_tail = True
            break
        record = decode_record(data[pos:nl])
        if record is None:
            scan.corrupt += 1
        else:
            scan.records.append(record)
            scan.valid_end = nl + 1
        pos = nl + 1
    return scan


def first_wins(records: Iterable[Record]) -> dict[str, Record]:
    """Unit records by id; a duplicate (a unit redone after a crash) never replaces the first."""
    units: dict[str, Record] = {}
    for record in records:
        if record.get("kind") == "unit" and isinstance(record.get("id"), str):
            units.setdefault(record["id"], record)
    return units


class CheckpointStore(Protocol):
    """Where one shard's ledger lives.

    Contract, checked by the shared contract tests for every implementation:
    - `append(records)` returns only once the records are durable (they survive a crash of this
      process and of its node); several records in one call may become durable partly, in order.
    - `read()` returns every complete record appended so far, in append order, and never a
      partial one, also while another process is appending (concurrent readers).
    - A record torn by a crash is never returned; the next `append` does not merge with it.
    - Records are immutable once appended; nothing is deleted except by `discard()`.
    """

    def read(self) -> list[Record]: ...

    def append(self, records: Sequence[Mapping[str, Any]]) -> None: ...

    def discard(self, reason: str) -> None:
        """Move the ledger aside (it belongs to another job); later reads start empty."""
        ...

    def close(self) -> None: ...


def _fsync_dir(path: Path, fsync: Callable[[int], None]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


class LocalFileStore:
    """The ledger as one file, `<dir>/shard-<i>.ledger`, opened O_APPEND and fsync'd per append."""

    def __init__(self, path: Path, *, fsync: Callable[[int], None] = os.fsync) -> None:
        self.path = path
        self._fsync = fsync
        self._fd: int | None = None

    def read(self) -> list[Record]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        scan = scan_bytes(data)
        if scan.corrupt:
            LOG.warning(
                "ledger has corrupt records; their units will be redone",
                extra={"ledger": self.path.name, "corrupt": scan.corrupt},
            )
        return scan.records

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if created:
                self._fsync(fd)
                _fsync_dir(self.path.parent, self._fsync)
            else:
                data = self.path.read_bytes()
                scan = scan_bytes(data)
                if scan.valid_end < len(data):
                    # A torn (or corrupt) tail: cut it so the next record starts on a clean line.
                    LOG.warning(
                        "truncating a torn ledger tail",
                        extra={"ledger": self.path.name, "bytes": len(data) - scan.valid_end},
                    )
                    os.ftruncate(fd, scan.valid_end)
                    self._fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return fd

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        fd = self._open()
        data = b"".join(encode_record(r) for r in records)
        started = time.perf_counter()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self._fsync(fd)
        metrics.LEDGER_WRITE.observe(time.perf_counter() - started)
        metrics.LAST_CHECKPOINT.set(time.time())

    def discard(self, reason: str) -> None:
        self.close()
        if self.path.exists():
            aside = self.path.with_name(f"{self.path.name}.{reason}.{int(time.time())}")
            self.path.rename(aside)
            _fsync_dir(self.path.parent, self._fsync)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FsspecStore:
    """The ledger on an fsspec file system (e.g. `s3://bucket/prefix/shard-0`), for object storage.

    Objects cannot be appended to, so each `append` writes one new object `<seq:012d>.rec` holding
    framed records; a PUT is atomic, so no reader sees a partial object. `read` lists and sorts the
    objects. Only one writer per shard (the operator runs one pod per shard).
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        fsspec = importlib.import_module("fsspec")
        self._fs, self._root = fsspec.core.url_to_fs(url, **storage_options)
        self._seq: int | None = None

    def _objects(self) -> list[str]:
        try:
            names = [str(p) for p in self._fs.ls(self._root, detail=False)]
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.endswith(".rec"))

    def read(self) -> list[Record]:
        records: list[Record] = []
        for name in self._objects():
            records.extend(scan_bytes(self._fs.cat_file(name)).records)
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        if self._seq is None:
            objects = self._objects()
            self._seq = int(objects[-1].rsplit("/", 1)[-1][:12]) + 1 if objects else 0
        started = time.perf_counter()
        self._fs.pipe_file(f"{self._root}/{self._seq:012d}.rec", b"".join(encode_record(r) for r in records))
        self._seq += 1
        metrics.LEDGER_WRITE.observe(time.perf_counter() - started)
        metrics.LAST_CHECKPOINT.set(time.time())

    def discard(self, reason: str) -> None:
        aside = f"{self._root}.{reason}.{int(time.time())}"
        if self._objects():
            self._fs.mv(self._root, aside, recursive=True)
        self._seq = None

    def close(self) -> None:
        return None


def ledger_path(ledger_dir: Path, shard: int) -> Path:
    return ledger_dir / f"shard-{shard}.ledger"


def read_shard_ledgers(ledger_dir: Path, shard_count: int) -> Iterator[tuple[int, list[Record]]]:
    """Every shard's complete records (read-only: safe while the other shards append)."""
    for shard in range(shard_count):
        yield shard, LocalFileStore(ledger_path(ledger_dir, shard)).read()
