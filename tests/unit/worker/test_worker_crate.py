"""Crate rendering (deterministic, mirrors packages), atomic publishing, and a cargo build."""

from __future__ import annotations

import importlib.util
import random
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from worker_builders import crate_files

from portalis_worker import support_crate
from portalis_worker.crate import CrateInputs, publish, render, rust_module_paths

pytestmark = pytest.mark.unit


def unit(path: str, name: str, order: int, rust: str | None = None, reason: str = "") -> dict[str, Any]:
    record: dict[str, Any] = {"id": f"{path}:{name}", "path": path, "name": name, "order": order}
    if rust is None:
        record.update(status="failed", reason=reason or "unsupported", message=f"{name} | multi\nline")
    else:
        record.update(status="translated", rust=rust)
    return record


HELPER = "fn helper(a: i64) -> i64 {\n    a + 1\n}\n"
UNITS = [
    unit("pkg/__init__.py", "root", 0, "pub fn root() -> i64 {\n    0\n}\n"),
    unit("pkg/a.py", "f", 0, "pub fn f() -> i64 {\n    helper(1)\n}\n\n" + HELPER),
    unit("pkg/a.py", "g", 1, "pub fn g() -> i64 {\n    helper(2)\n}\n\n" + HELPER),
    unit("pkg/a.py", "h", 2),
    unit("pkg/sub/type.py", "t", 0, "pub fn t() -> i64 {\n    3\n}\n"),
    unit("lib.py", "l", 0, "pub fn l() -> i64 {\n    4\n}\n"),
    unit("my-mod.py", "m", 0, "pub fn m() -> i64 {\n    5\n}\n"),
]
FILES = sorted({str(u["path"]) for u in UNITS} | {"ns/empty.py"})


def test_module_paths_are_valid_rust_and_collision_free() -> None:
    paths = rust_module_paths(["a-b.py", "a_b.py", "pkg/__init__.py", "pkg/match.py", "lib.py", "2x.py"])
    assert paths["pkg/__init__.py"] == ("pkg",)
    assert paths["pkg/match.py"] == ("pkg", "match_")
    assert paths["lib.py"] == ("lib_",)
    assert paths["2x.py"] == ("_2x",)
    assert paths["a-b.py"] == ("a_b",)
    assert paths["a_b.py"][0].startswith("a_b_")


def test_render_is_deterministic_and_mirrors_packages() -> None:
    first = render(CrateInputs("demo", "2021", FILES, UNITS))
    shuffled = UNITS[:]
    random.Random(7).shuffle(shuffled)
    assert render(CrateInputs("demo", "2021", list(reversed(FILES)), shuffled)) == first
    assert sorted(first) == sorted(
        [
            "Cargo.toml",
            "TRANSLATION_REPORT.md",
            "translation_report.json",
            "src/lib.rs",
            "src/pkg/mod.rs",
            "src/pkg/a.rs",
            "src/pkg/sub/mod.rs",
            "src/pkg/sub/type_.rs",
            "src/lib_.rs",
            "src/my_mod.rs",
            "src/ns/mod.rs",
            "src/ns/empty.rs",
        ]
    )
    a = first["src/pkg/a.rs"].decode()
    assert a.count("fn helper") == 1
    assert a.index("pub fn f") < a.index("pub fn g")
    assert "// Not translated: `pkg/a.py` `h` (unsupported)" in a
    assert "pub mod a;\npub mod sub;" in first["src/pkg/mod.rs"].decode()
    report = first["TRANSLATION_REPORT.md"].decode()
    assert "| `pkg/a.py` | `h` | unsupported | h \\| multi line |" in report
    assert b"time" not in first["translation_report.json"]


def test_publish_is_atomic_and_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "out" / "demo"
    v1 = {f"src/m{i}.rs": b"// one\n" * 200 for i in range(200)} | {"Cargo.toml": b"one\n"}
    v2 = {"Cargo.toml": b"two\n", "src/lib.rs": b"// two\n"}
    stop = threading.Event()
    seen: list[str] = []
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            if not target.exists():
                seen.append("absent")
                continue
            try:
                files = crate_files(target)
            except FileNotFoundError:
                continue  # swapped away while walking (the v2 phase)
            if files in (v1, v2):
                seen.append("complete")
            elif not all(v1.get(k) == c or v2.get(k) == c for k, c in files.items()):
                problems.append("a file was read half-written")
            elif target.exists() and set(files) < set(v1) and not stop.is_set() and "swap" not in seen:
                problems.append(f"an incomplete crate was visible: {len(files)} of {len(v1)} files")

    reader = threading.Thread(target=read)
    reader.start()
    assert publish(v1, target) is True
    seen.append("swap")
    assert publish(v1, target) is False, "an identical crate is left alone"
    for i in range(10):
        publish(v2 if i % 2 == 0 else v1, target)
    stop.set()
    reader.join()
    assert problems == []
    assert "complete" in seen
    assert crate_files(target) == v1
    assert [p.name for p in target.parent.iterdir()] == ["demo"], "no temporary directories left"


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")
def test_fully_translated_crate_builds_offline(tmp_path: Path) -> None:
    translated = [u for u in UNITS if u["status"] == "translated"]
    files = render(CrateInputs("demo-crate", "2021", FILES, translated))
    publish(files, tmp_path / "demo-crate")
    proc = subprocess.run(
        ["cargo", "build", "--offline", "--quiet"],
        cwd=tmp_path / "demo-crate",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


def test_the_unicode_tables_are_the_ones_cpython_generates() -> None:
    """`portalis_py::printable` and `identifier` are generated from CPython's unicodedata; a stale
    table would make `repr()`, `str.isprintable()` or `str.isidentifier()` differ from Python on the
    characters that changed."""
    root = Path(support_crate.SOURCE)
    spec = importlib.util.spec_from_file_location(
        "gen_unicode_tables", root / "tools" / "gen_unicode_tables.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for name, generate in generator.OUTPUTS.items():
        assert (root / "src" / name).read_text() == generate(), name


def _build_support(cache_dir: str) -> str:
    return str(support_crate.rlib("rustc", "2021", Path(cache_dir)))


def test_workers_in_several_processes_build_the_support_rlib_into_one_directory_at_once(
    tmp_path: Path,
) -> None:
    """The pods of one node share the scratch directory the support crate is built into; three
    workers starting together each build it (none waits for another) and every one gets a whole
    rlib: a shared partial file made rustc fail in all but one of them."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(3) as pool:
        built = pool.map(_build_support, [str(tmp_path)] * 3)
    assert len(set(built)) == 1
    rlib = Path(built[0])
    assert rlib.stat().st_size > 0
    assert not list(tmp_path.glob("*.partial"))
    probe = tmp_path / "probe.rs"
    probe.write_text('fn main() { assert!(portalis_py::printable::isprintable("ok")); }\n')
    run = subprocess.run(
        [
            "rustc",
            "--edition",
            "2021",
            "--extern",
            f"portalis_py={rlib}",
            "-o",
            str(tmp_path / "probe"),
            str(probe),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
