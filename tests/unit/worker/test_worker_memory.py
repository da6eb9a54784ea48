"""The translation memory (memory.py): canonical code, signatures, the index, types reuse, the job file,
and the worker serving near-duplicates from it within a job and across jobs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from worker_builders import assignment, write_project

from portalis_worker import metrics
from portalis_worker.assignment import Assignment
from portalis_worker.backends import Backend, CacheBackend, RulesBackend
from portalis_worker.ledger import LocalFileStore, ledger_path, scan_bytes
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.memory import (
    NUM_PERM,
    SEED,
    SHINGLE,
    Entry,
    FallbackSigner,
    LocalSigner,
    MemoryBackend,
    MemoryIndex,
    apply_types,
    canonical,
    decode_signature,
    encode_signature,
    job_entries,
    load_pinned,
    pin_files,
    save_job_memory,
    write_job_file,
)
from portalis_worker.progress import NullReporter
from portalis_worker.sources import list_sources
from portalis_worker.typed_rules import InferredTypes, ranked_backends

pytestmark = pytest.mark.unit

SIGNER = LocalSigner()


def sig(text: str) -> NDArray[np.uint32]:
    return np.asarray(SIGNER.minhash([text])[0], dtype=np.uint32)


def entry(source: str, name: str = "f", key: str = "k", **kw: object) -> Entry:
    can = canonical(source)
    assert can is not None
    return Entry(key=key, body=can.body, name=name, rust=f"// {name}", signature=sig(can.text), **kw)  # type: ignore[arg-type]


def test_canonical_code_ignores_imports_docstrings_comments_and_layout() -> None:
    a = canonical('import os\n\ndef f(x, y):\n    """Doc."""\n    # note\n    return x + y * 2\n')
    b = canonical("import sys\ndef f(x,y):\n    return x + y*2\n")
    c = canonical("def f(x, y):\n    return x + y * 3\n")
    assert a is not None
    assert b is not None
    assert c is not None
    assert a == b
    assert a.body != c.body
    assert canonical("def f(:\n") is None


def test_signatures_round_trip_and_near_duplicates_are_similar() -> None:
    s = sig("def f(x, y):\n    return x + y * 2")
    decoded = decode_signature(encode_signature(s))
    assert decoded is not None
    assert np.array_equal(decoded, s)
    assert decode_signature("not base64!") is None
    near = sig("def f(x, y):\n    return x + y * 3")
    far = sig("class Parser:\n    def parse(self, text):\n        return text.split(',')")
    assert np.mean(s == near) >= 0.8 > np.mean(s == far)


def test_lookup_prefers_exact_then_same_code_then_near_duplicate_types() -> None:
    index = MemoryIndex()
    code = "def f(x, y):\n    return x + y * 2\n"
    index.add(entry(code, key="k1"))
    index.add(entry(code, key="k2", state="verified"))
    index.add(entry("def f(x, y):\n    return x + y * 9\n", key="k3", types={"f.x": {"type": "int"}}))
    can = canonical(code)
    assert can is not None
    exact = index.lookup("k1", "f", can.body, sig(can.text))
    assert exact is not None
    assert (exact.kind, exact.entry.key) == ("exact", "k1")
    body = index.lookup("other", "f", can.body, sig(can.text))
    assert body is not None
    assert (body.kind, body.entry.key) == ("body", "k2"), "verified first"
    near_code = canonical("def f(x, y):\n    return x + y * 7\n")
    assert near_code is not None
    near = index.lookup("new", "f", near_code.body, sig(near_code.text))
    assert near is not None
    assert (near.kind, near.entry.key) == ("types", "k3")
    assert near.similarity >= 0.8
    # another name, or a near-duplicate without types, is not served
    assert index.lookup("new", "g", near_code.body, sig(near_code.text)) is None
    far = canonical("def f(items):\n    return sorted(set(items), reverse=True)\n")
    assert far is not None
    assert index.lookup("new", "f", far.body, sig(far.text)) is None


def test_apply_types_fills_only_unannotated_slots() -> None:
    source = "def render(template, values: dict) -> str:\n    return template\n"
    types = {
        "render.template": {"type": "str", "source": "model"},
        "render.values": {"type": "list[int]", "source": "usage"},
        "render.<return>": {"type": "int", "source": "usage"},
    }
    typed = apply_types(source, types)
    assert typed == "def render(template: str, values: dict) -> str:\n    return template\n"
    method = "class C:\n    def get(self, key):\n        return key\n"
    assert apply_types(method, {"C.get.key": {"type": "str"}}) == (
        "class C:\n\n    def get(self, key: str):\n        return key\n"
    )
    assert apply_types(source, {"other.x": {"type": "int"}}) is None
    assert apply_types(source, {"render.template": {"type": "not a type ("}}) is None


def test_entries_of_another_translator_or_signing_are_ignored(tmp_path: Path) -> None:
    e = entry("def f(x):\n    return x\n", types={"f.x": {"type": "int", "source": "usage"}})
    record = e.as_record()
    back = Entry.of_record(record)
    assert back is not None
    assert back == e
    assert np.array_equal(back.signature, e.signature)
    assert Entry.of_record({**record, "translator": "0" * 16}) is None
    assert Entry.of_record({**record, "signing": "minhash-64-5-1"}) is None
    assert Entry.of_record({**record, "sig": "AAAA"}) is None


def test_job_file_keeps_verdicts_and_leaves_mismatches_out(tmp_path: Path) -> None:
    can = canonical("def f(x: int) -> int:\n    return x\n")
    assert can is not None
    base = {"kind": "unit", "status": "translated", "name": "f", "path": "m.py", "rust": "fn f() {}"}
    signed = {"body": can.body, "sig": encode_signature(sig(can.text))}
    units = [
        {**base, "id": "a", "key": "ka", **signed},
        {**base, "id": "b", "key": "kb", **signed},
        {**base, "id": "c", "key": "kc", **signed},
        {**base, "id": "d", "key": "kd"},  # no signature: not a memory entry
        {**base, "id": "e", "key": "ke", "status": "failed", **signed},
    ]
    verdicts = {"a": {"state": "verified"}, "b": {"state": "mismatch"}}
    entries = job_entries(units, verdicts, "ns/job")
    assert [(e.key, e.state) for e in entries] == [("ka", "verified"), ("kc", "compiled")]
    memory = tmp_path / "memory"
    path = write_job_file(memory, "fp1", entries)
    assert path == memory / "fp1.mem"
    assert [r["key"] for r in scan_bytes(path.read_bytes()).records] == ["ka", "kc"]
    assert write_job_file(memory, "fp2", []) is None
    pinned = pin_files(memory, own="fp1")
    assert pinned == {}, "a job does not read its own file"
    pinned = pin_files(memory, own="other")
    assert pinned == {"fp1.mem": path.stat().st_size}
    assert len(load_pinned(memory, pinned)) == 2
    assert len(load_pinned(memory, {"fp1.mem": 0})) == 0, "read up to the pinned size"
    assert len(load_pinned(memory, {"gone.mem": 100})) == 0


class Broken:
    def minhash(self, sources: Sequence[str]) -> NDArray[np.uint32]:
        raise ConnectionError("no server")


class Wrong:
    def minhash(self, sources: Sequence[str]) -> NDArray[np.uint32]:
        return np.zeros((len(sources), 3), dtype=np.uint32)


def test_the_signer_falls_back_to_the_kernel_in_process_with_the_same_bits() -> None:
    texts = ["def f(x):\n    return x", "x = 1"]
    want = SIGNER.minhash(texts)
    for remote in (Broken(), Wrong()):
        signer = FallbackSigner(remote)
        got = signer.minhash(texts)
        assert np.array_equal(got, want)
        assert (signer.served, signer.local_count) == (0, 2)
    served = FallbackSigner(SIGNER)
    assert np.array_equal(served.minhash(texts), want)
    assert served.served == 2
    assert served.minhash([]).shape == (0, NUM_PERM)


def test_the_embedder_signs_with_the_memorys_parameters() -> None:
    """Signatures from the embedder on Triton and from the kernel in process must compare."""
    repo = Path(__file__).resolve().parents[3] / "model_repo" / "embedder"
    for config in (repo / "config.pbtxt", repo / "configs" / "cpu.pbtxt"):
        text = config.read_text()
        params = dict(re.findall(r'key: "(\w+)", value: \{ string_value: "([^"]*)"', text))
        assert (int(params["num_perm"]), int(params["shingle"]), int(params["seed"])) == (
            NUM_PERM,
            SHINGLE,
            SEED,
        )
        assert f"dims: [ {NUM_PERM} ]" in text


# ---- the worker with a memory: within a job and across jobs ---------------------------------------

HELPER_V1 = "def helper(x: int) -> int:\n    return x + 1\n"
HELPER_V2 = "def helper(x: int, y: int = 0) -> int:\n    return x + y + 1\n"
USE = "from pkg.helpers import helper\n\n\ndef use(a: int) -> int:\n    return helper(a) * 2\n"
SAME = "def same(a: int, b: int) -> int:\n    return a * 3 + b\n"
UNTYPED = (
    "def clamp(value, low, high):\n    if value < low:\n        return low\n"
    "    if value > high:\n        return high\n    return value + {k}\n"
)


def project(root: Path, version: int) -> Path:
    return write_project(
        root,
        {
            "pkg/__init__.py": "",
            "pkg/helpers.py": HELPER_V1 if version == 1 else HELPER_V2,
            "pkg/user.py": USE,
            "pkg/same.py": SAME,
            **{f"pkg/c{i}.py": UNTYPED.format(k=10 * version + i) for i in range(3)},
        },
    )


def run_job(tmp: Path, src: Path, name: str, memory_dir: Path) -> tuple[Worker, Assignment]:
    a = assignment(
        tmp / name,
        src,
        PORTALIS_JOB_NAME=name,
        PORTALIS_JOB_UID=f"uid-{name}",
        PORTALIS_MEMORY_DIR=str(memory_dir),
    )
    cache = CacheBackend()
    inferred = InferredTypes()
    memory = MemoryBackend(LocalSigner(), job=f"{a.job_namespace}/{a.job_name}")
    chain: list[Backend] = [cache, memory, RulesBackend(), *ranked_backends(inferred)]
    store = LocalFileStore(ledger_path(a.ledger_dir, 0))
    worker = Worker(a, store, chain, cache, None, NullReporter(), inferred=inferred, memory=memory)
    if worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger()):
        assemble_if_complete(a)
    store.close()
    return worker, a


def units_of(a: Assignment) -> dict[str, dict[str, Any]]:
    records = LocalFileStore(ledger_path(a.ledger_dir, 0)).read()
    return {f"{r['path']}:{r['name']}": r for r in records if r.get("kind") == "unit"}


def test_near_duplicates_are_served_within_a_job_and_across_jobs(tmp_path: Path) -> None:
    memory_dir = tmp_path / "memory"
    _, first = run_job(tmp_path, project(tmp_path / "v1", 1), "v1", memory_dir)
    one = units_of(first)
    assert all(r["status"] == "translated" for r in one.values()), one
    # within the job: clamp in c1 and c2 differs from c0's in a constant; c0's types come first
    assert one["pkg/c0.py:clamp"]["backend"] == "rules+types"
    for i in (1, 2):
        served = one[f"pkg/c{i}.py:clamp"]
        assert served["backend"] == "memory", served
        assert served["memory"]["match"] == "types"
        assert served["memory"]["path"] in {f"pkg/c{j}.py" for j in range(i)}, "a unit committed before"
        assert served["types"] == one["pkg/c0.py:clamp"]["types"]
        assert f"+ {10 + i}" in str(served["rust"])
    files = sorted(p.name for p in memory_dir.iterdir())
    assert files == [f"{first.fingerprint()}.mem"]

    _, second = run_job(tmp_path, project(tmp_path / "v2", 2), "v2", memory_dir)
    two = units_of(second)
    assert all(r["status"] == "translated" for r in two.values()), two
    kinds = {k: (r.get("memory") or {}).get("match") for k, r in two.items()}
    assert kinds["pkg/same.py:same"] == "exact"
    assert kinds["pkg/user.py:use"] == "body", "the same code; its dependency's interface changed"
    assert kinds["pkg/c0.py:clamp"] == "types"
    assert two["pkg/c0.py:clamp"]["memory"]["job"] == "team-a/v1"
    assert kinds["pkg/helpers.py:helper"] is None, "changed code with full annotations: translated anew"
    assert "+ 20" in str(two["pkg/c0.py:clamp"]["rust"])
    # the report says which units came from the memory, and how
    report = json.loads((second.output_dir / "demo-crate" / "translation_report.json").read_text())
    assert report["memory"]["served"] == sum(1 for k in kinds.values() if k)
    states = {f"{u['path']}:{u['unit']}": u for u in report["unit_states"]}
    assert states["pkg/same.py:same"]["memory"]["match"] == "exact"
    md = (second.output_dir / "demo-crate" / "TRANSLATION_REPORT.md").read_text()
    assert "## Translation memory" in md
    assert "team-a/v1" in md


def test_a_resumed_shard_reads_the_memory_it_pinned(tmp_path: Path) -> None:
    memory_dir = tmp_path / "memory"
    run_job(tmp_path, project(tmp_path / "v1", 1), "v1", memory_dir)
    src = project(tmp_path / "v2", 2)
    a = assignment(
        tmp_path / "v2",
        src,
        PORTALIS_JOB_NAME="v2",
        PORTALIS_JOB_UID="uid-v2",
        PORTALIS_MEMORY_DIR=str(memory_dir),
    )
    store = LocalFileStore(ledger_path(a.ledger_dir, 0))
    memory = MemoryBackend(LocalSigner())
    worker = Worker(a, store, [CacheBackend(), memory], CacheBackend(), None, NullReporter(), memory=memory)
    worker.open_ledger()
    assert len(memory.index) > 0
    store.close()
    pins = [r for r in store.read() if r.get("kind") == "memory"]
    assert len(pins) == 1
    assert len(pins[0]["files"]) == 1
    # a memory file written after the first start is not read on resume
    (memory_dir / "later.mem").write_bytes((memory_dir / next(iter(pins[0]["files"]))).read_bytes())
    again = MemoryBackend(LocalSigner())
    resumed = Worker(a, store, [CacheBackend(), again], CacheBackend(), None, NullReporter(), memory=again)
    resumed.open_ledger()
    assert len(again.index) == len(memory.index)
    assert len([r for r in store.read() if r.get("kind") == "memory"]) == 1
    store.close()


def test_a_memory_directory_the_worker_cannot_write_costs_the_memory_not_the_crate(tmp_path: Path) -> None:
    # A path under a regular file cannot be created (as on a volume whose subPath the kubelet made
    # owned by root, which the worker's uid cannot write; root ignores modes, so a file stands in).
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    failures = metrics.MEMORY_WRITE_FAILURES._value.get()
    _, a = run_job(tmp_path, project(tmp_path / "v1", 1), "v1", blocker / "memory")
    crate = a.output_dir / "demo-crate"
    assert (crate / "Cargo.toml").is_file(), "the crate is published without its memory"
    assert all(r["status"] == "translated" for r in units_of(a).values())
    assert metrics.MEMORY_WRITE_FAILURES._value.get() == failures + 1
    assert blocker.read_text() == "not a directory"


def test_save_job_memory_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = Entry(key="k", body="b", name="f", rust="fn f() {}", signature=np.zeros(4, np.uint32))

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    reason = save_job_memory(tmp_path, "fp", [entry])
    assert reason is not None
    assert "No space left on device" in reason
    assert list(tmp_path.iterdir()) == [], "neither the file nor its temporary"
