"""The checkpoint ledger: framing, torn tails, corruption, duplicates, concurrency, durability."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from portalis_worker.ledger import (
    CheckpointStore,
    FsspecStore,
    LocalFileStore,
    decode_record,
    encode_record,
    first_wins,
    scan_bytes,
)

pytestmark = pytest.mark.unit


def rec(i: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "unit", "id": f"u{i}", "status": "translated", "rust": f"fn f{i}() {{}}\n", **extra}


def test_encode_is_one_ascii_line_with_checksum() -> None:
    line = encode_record({"rust": "fn é() {}\n", "id": "x", "kind": "unit"})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert line.isascii()
    assert decode_record(line[:-1]) == {"rust": "fn é() {}\n", "id": "x", "kind": "unit"}


@pytest.mark.parametrize("bad", [b"", b"zz", b"0000000g {}", b"00000000 {}", b"12345678x{}"])
def test_decode_rejects_malformed(bad: bytes) -> None:
    assert decode_record(bad) is None


def test_torn_last_record_at_every_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "shard-0.ledger"
    store = LocalFileStore(path)
    store.append([rec(0), rec(1)])
    store.append([rec(2)])
    store.close()
    full = path.read_bytes()
    last = encode_record(rec(2))
    start = len(full) - len(last)
    for cut in range(start, len(full)):
        path.write_bytes(full[:cut])
        reader = LocalFileStore(path)
        assert [r["id"] for r in reader.read()] == ["u0", "u1"], cut
        # the writer truncates the torn tail before appending, so the new record is not lost
        reader.append([rec(9)])
        reader.close()
        assert [r["id"] for r in LocalFileStore(path).read()] == ["u0", "u1", "u9"], cut
        assert path.read_bytes() == full[:start] + encode_record(rec(9))


def test_corrupt_checksum_skips_only_that_record(tmp_path: Path) -> None:
    path = tmp_path / "l"
    store = LocalFileStore(path)
    store.append([rec(0), rec(1), rec(2)])
    store.close()
    data = bytearray(path.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 30] ^= 0x01  # flip one bit inside record 1's JSON
    path.write_bytes(bytes(data))
    assert [r["id"] for r in LocalFileStore(path).read()] == ["u0", "u2"]
    scan = scan_bytes(bytes(data))
    assert scan.corrupt == 1
    assert not scan.torn_tail


def test_corrupt_last_record_is_truncated_before_append(tmp_path: Path) -> None:
    path = tmp_path / "l"
    store = LocalFileStore(path)
    store.append([rec(0), rec(1)])
    store.close()
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x20
    path.write_bytes(bytes(data))
    store = LocalFileStore(path)
    store.append([rec(2)])
    store.close()
    assert [r["id"] for r in LocalFileStore(path).read()] == ["u0", "u2"]


def test_duplicates_first_wins() -> None:
    records = [rec(1, status="failed"), rec(2), rec(1, status="translated"), {"kind": "header"}]
    units = first_wins(records)
    assert list(units) == ["u1", "u2"]
    assert units["u1"]["status"] == "failed"


class CountingFsync:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, fd: int) -> None:
        self.calls.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        os.fsync(fd)


def test_fsync_file_and_directory_on_creation(tmp_path: Path) -> None:
    fsync = CountingFsync()
    store = LocalFileStore(tmp_path / "sub" / "shard-0.ledger", fsync=fsync)
    store.append([rec(0)])
    assert "dir" in fsync.calls
    assert fsync.calls[-1] == "file"
    before = len(fsync.calls)
    store.append([rec(1), rec(2)])
    assert fsync.calls[before:] == ["file"], "one fsync per append (group commit)"
    store.close()


def test_concurrent_reader_sees_only_complete_records(tmp_path: Path) -> None:
    path = tmp_path / "l"
    writer = LocalFileStore(path)
    big = "x" * 20000  # records larger than a pipe buffer / page, so writes can be observed partially
    n = 300
    done = threading.Event()

    def write() -> None:
        for i in range(n):
            writer.append([rec(i, rust=big)])
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = 0
    while not done.is_set() or seen < n:
        records = LocalFileStore(path).read()
        ids = [r["id"] for r in records]
        assert ids == [f"u{i}" for i in range(len(ids))]
        assert all(r["rust"] == big for r in records)
        assert len(ids) >= seen
        seen = len(ids)
        if done.is_set() and seen < n:
            break
    thread.join()
    writer.close()
    assert len(LocalFileStore(path).read()) == n


def test_discard_moves_the_ledger_aside(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "shard-0.ledger")
    store.append([rec(0)])
    store.discard("stale")
    assert store.read() == []
    assert len(list(tmp_path.glob("shard-0.ledger.stale.*"))) == 1
    store.append([rec(1)])
    assert [r["id"] for r in store.read()] == ["u1"]


def _stores(tmp_path: Path) -> list[CheckpointStore]:
    stores: list[CheckpointStore] = [LocalFileStore(tmp_path / "file" / "shard-0.ledger")]
    if importlib.util.find_spec("fsspec") is not None:
        stores.append(FsspecStore(f"memory://portalis-test/{tmp_path.name}/shard-0"))
    return stores


def test_checkpoint_store_contract(tmp_path: Path) -> None:
    """Every CheckpointStore: append order kept, records complete, reads repeatable, discard empties."""
    for store in _stores(tmp_path):
        assert store.read() == []
        store.append([])
        store.append([rec(0), rec(1)])
        store.append([rec(2)])
        assert [r["id"] for r in store.read()] == ["u0", "u1", "u2"], type(store).__name__
        assert store.read() == store.read()
        store.discard("stale")
        assert store.read() == []
        store.append([rec(3)])
        assert [r["id"] for r in store.read()] == ["u3"]
        store.close()
