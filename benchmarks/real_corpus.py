"""The translator on real packages: PyPI sdists pinned in real_corpus.lock, run through the real worker.

    .venv/bin/python benchmarks/real_corpus.py [--only NAME ...] [--no-py2many] [--smoke]

For each package: download its sdist (pip download --no-binary, digest checked against the lock),
take its import packages (directories with an `__init__.py`, at the top or under `src/`; tests, docs
and setup scripts left out), and run one worker shard on them exactly as a TranslationJob does (rules
backend, package index, rustc check per file, ledger, crate assembly). Then `cargo build --offline`
on the assembled crate, and count the `pub` items it exports.

Side by side in the same run, py2many 0.9 (PyPI, `--rust`) and depyler 4.1.1 (crates.io, `cargo
install`ed once into the cache) on the same files: files each produced Rust for, and how many of
those compile with rustc as a library.

`--smoke` runs the whole path on one small package and writes only to `--out`. A full run writes
benchmarks/results/real_corpus.json (metric, value, unit, compared_with) and, beside it,
real_corpus.packages.json (per package: units, lines, crate build, pub items, top blockers).
`--only NAME ...` measures a subset and writes only to `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reporting

from portalis_worker.assignment import Assignment, load_assignment
from portalis_worker.backends import CacheBackend, RulesBackend
from portalis_worker.ledger import LocalFileStore, first_wins, read_shard_ledgers
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.progress import NullReporter
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources

HERE = Path(__file__).resolve().parent
NAME = "real_corpus"
LOCK = HERE / "real_corpus.lock"
SKIP_DIRS = {"tests", "test", "docs", "doc", "examples", "benchmarks", "tools", "scripts"}
SMOKE_PACKAGE = "inflection"


@dataclass(frozen=True)
class Pinned:
    name: str
    version: str
    sha256: str


def read_lock(path: Path = LOCK) -> list[Pinned]:
    pins = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, version, digest = line.split()
            pins.append(Pinned(name, version, digest))
    return pins


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "portalis" / "corpus"


def download(pin: Pinned) -> Path:
    """The sdist, from the cache or PyPI; refuses a file whose digest differs from the lock."""
    where = cache_dir()
    where.mkdir(parents=True, exist_ok=True)
    stem = f"{re.sub(r'[-_.]+', '_', pin.name).lower()}_{pin.version}"

    def candidates() -> list[Path]:
        return [p for p in where.iterdir() if p.name.lower().replace("-", "_").startswith(stem)]

    found = candidates()
    if not found:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"),
                *("-d", str(where), f"{pin.name}=={pin.version}"),
            ],
            check=True,
        )
        found = candidates()
    if not found:
        raise SystemExit(f"{pin.name} {pin.version}: no sdist downloaded")
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if digest != pin.sha256:
        raise SystemExit(f"{found[0].name}: sha256 {digest} does not match the lock ({pin.sha256})")
    return found[0]


def extract(archive: Path, into: Path) -> Path:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    (root,) = [p for p in into.iterdir() if p.is_dir()]
    return root


def import_packages(root: Path, into: Path) -> list[str]:
    """Copy the sdist's import packages into `into` (the job's source root); their names."""
    base = root / "src" if (root / "src").is_dir() else root
    names = []
    for child in sorted(base.iterdir()):
        if child.is_dir() and (child / "__init__.py").exists() and child.name not in SKIP_DIRS:
            shutil.copytree(
                child, into / child.name, ignore=shutil.ignore_patterns(*SKIP_DIRS, "__pycache__")
            )
            names.append(child.name)
    if not names:  # a single-module distribution
        for child in sorted(base.glob("*.py")):
            if child.name not in ("setup.py", "conftest.py") and not child.name.startswith("test"):
                shutil.copy2(child, into / child.name)
                names.append(child.stem)
    return names


def assignment(work: Path, source: Path, crate: str) -> Assignment:
    return load_assignment(
        {
            "PORTALIS_JOB_NAME": crate,
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
    )


def blocker(message: str) -> str:
    """A failure message without positions and names, so that alike failures count together (a
    unit blocked by a dependency counts under the dependency's reason)."""
    text = re.sub(r" at line \d+", "", message)
    text = re.sub(r" in dependency \S+", " (in a dependency)", text)
    text = re.sub(r"\(line \d+\)", "", text)
    return text.split(":")[0] if text.startswith("E0") else text[:80]


def run_worker(work: Path, source: Path, crate: str) -> dict[str, Any]:
    a = assignment(work, source, crate)
    cache = CacheBackend()
    checker = RustcChecker("rustc", a.rust_edition, a.scratch_dir)
    store = LocalFileStore(a.ledger_dir / "shard-0.ledger")
    worker = Worker(a, store, [cache, RulesBackend()], cache, checker, NullReporter())
    files = list_sources(a.source_dir, a.include, a.exclude)
    worker.run(files, worker.open_ledger())
    store.close()
    if not assemble_if_complete(a, source):
        raise SystemExit(f"{crate}: the crate was not assembled")
    records: list[dict[str, Any]] = []
    for _, shard_records in read_shard_ledgers(a.ledger_dir, 1):
        records.extend(shard_records)
    units = [dict(r) for r in first_wins(records).values()]
    crate_dir = a.output_dir / crate
    report = json.loads((crate_dir / "translation_report.json").read_text())
    return {"units": units, "crate_dir": crate_dir, "report": report, "files": len(files)}


def cargo_build(crate_dir: Path) -> tuple[bool, str]:
    proc = subprocess.run(
        ["cargo", "build", "--offline", "--quiet"],
        cwd=crate_dir,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "CARGO_TARGET_DIR": str(crate_dir.parent / "target")},
    )
    first_error = next((line for line in proc.stderr.splitlines() if line.startswith("error")), "")
    return proc.returncode == 0, first_error


PUB_ITEM = re.compile(r"^pub (?:fn|struct|enum|const|static|trait|type) ", re.MULTILINE)


def exported(crate_dir: Path) -> int:
    return sum(len(PUB_ITEM.findall(p.read_text())) for p in (crate_dir / "src").rglob("*.rs"))


PY2MANY = "py2many==0.9"


def py2many_exe() -> Path:
    """py2many in a virtual environment of its own (its dependencies stay out of the project's)."""
    venv = cache_dir().parent / "py2many-0.9"
    exe = venv / "bin" / "py2many"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", PY2MANY], check=True)
    return exe


def py2many(source: Path, work: Path) -> dict[str, int]:
    """py2many --rust on each file (it writes `file.rs` beside it)."""
    exe = py2many_exe()
    return other_tool("py2many", source, work, lambda f, out: [str(exe), "--rust", str(f)])


def other_tool(
    name: str, source: Path, work: Path, argv: Callable[[Path, Path], list[str]]
) -> dict[str, int]:
    """Another translator on each file of a copy of `source` (`argv(file, its .rs)`), then rustc on
    each output as a library: files, how many it produced Rust for, how many of those compile."""
    copy = work / name
    shutil.copytree(source, copy)
    files = sorted(copy.rglob("*.py"))
    produced = compiled = 0
    for f in files:
        out = f.with_suffix(".rs")
        try:
            subprocess.run(argv(f, out), capture_output=True, timeout=120, check=False, cwd=f.parent)
        except subprocess.TimeoutExpired:
            continue
        if not out.exists() or not out.read_text().strip():
            continue
        produced += 1
        check = subprocess.run(
            [
                *("rustc", "--edition", "2021", "--crate-type", "lib", "--emit=metadata", "-A", "warnings"),
                *("-o", str(work / f"{name}.rmeta"), str(out)),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        compiled += check.returncode == 0
    return {"files": len(files), "produced": produced, "compiled": compiled}


DEPYLER = ("depyler", "4.1.1")


def depyler_exe() -> Path:
    """depyler from crates.io, built once into the cache (about 15 minutes on 2 cores)."""
    root = cache_dir().parent / f"depyler-{DEPYLER[1]}"
    exe = root / "bin" / "depyler"
    if not exe.exists():
        subprocess.run(
            ["cargo", "install", DEPYLER[0], "--version", DEPYLER[1], "--locked", "--root", str(root)],
            check=True,
            timeout=3600,
        )
    return exe


def depyler(source: Path, work: Path) -> dict[str, int]:
    """`depyler transpile FILE -o FILE.rs` on each file."""
    exe = depyler_exe()
    return other_tool("depyler", source, work, lambda f, out: [str(exe), "transpile", str(f), "-o", str(out)])


def measure(pin: Pinned, base: Path, with_py2many: bool) -> dict[str, Any]:
    work = base / pin.name
    work.mkdir(parents=True)
    root = extract(download(pin), work / "sdist")
    source = work / "source"
    source.mkdir()
    packages = import_packages(root, source)
    crate = re.sub(r"[^a-z0-9_]", "_", pin.name.lower())
    run = run_worker(work / "run", source, crate)
    units = run["units"]
    defs = [u for u in units if u["name"] not in ("<module>", "<file>")]
    translated = [u for u in units if u.get("status") == "translated"]
    report_failed = {(f["path"], f["unit"]) for f in run["report"]["failures"]}
    in_crate = [u for u in translated if (u["path"], u["name"]) not in report_failed]
    builds, error = cargo_build(run["crate_dir"])
    blockers = Counter(blocker(str(u.get("message", ""))) for u in units if u.get("status") != "translated")
    blockers.update(
        blocker(f"dependency: {f['message']}")
        for f in run["report"]["failures"]
        if f["reason"] == "dependency"
    )
    lines_total = sum(int(u.get("lines", 0)) for u in units)
    result: dict[str, Any] = {
        "package": f"{pin.name} {pin.version}",
        "import_packages": packages,
        "files": run["files"],
        "units": len(units),
        "def_class_units": len(defs),
        "units_in_crate": len(in_crate),
        "def_class_units_in_crate": sum(1 for u in in_crate if u["name"] not in ("<module>", "<file>")),
        "lines": lines_total,
        "lines_in_crate": sum(int(u.get("lines", 0)) for u in in_crate),
        "crate_builds": builds,
        "cargo_error": error,
        "pub_items": exported(run["crate_dir"]),
        "units_verified": int(run["report"]["units"].get("verified", 0)),
        "units_mismatched": int(run["report"]["units"].get("mismatch", 0)),
        "mismatches": [v for v in run["report"].get("verification", []) if v["state"] == "mismatch"],
        "top_blockers": blockers.most_common(8),
    }
    if with_py2many:
        result["py2many"] = py2many(source, work)
        result["depyler"] = depyler(source, work)
    return result


def records(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures, in the shared results format (benchmarks/reporting.py)."""
    total = {k: sum(p[k] for p in packages) for k in ("units", "def_class_units", "units_in_crate", "lines")}
    defs_ok = sum(p["def_class_units_in_crate"] for p in packages)
    lines_ok = sum(p["lines_in_crate"] for p in packages)
    names = ", ".join(p["package"] for p in packages)
    out = [
        reporting.record(
            "def_class_units_in_crate_share",
            100 * defs_ok / max(1, total["def_class_units"]),
            "% of def/class units",
            f"{defs_ok}/{total['def_class_units']} def/class units of {names} are in a crate that builds; "
            "target >= 50%; before package scope: 15/459 units of all kinds (3.3%)",
        ),
        reporting.record(
            "units_in_crate_share",
            100 * total["units_in_crate"] / max(1, total["units"]),
            "% of all units",
            f"{total['units_in_crate']}/{total['units']} units, module constants and module code included",
        ),
        reporting.record(
            "lines_in_crate_share",
            100 * lines_ok / max(1, total["lines"]),
            "% of code lines",
            f"{lines_ok}/{total['lines']} code lines; before package scope: 124/19,082 (0.65%)",
        ),
        reporting.record(
            "units_verified_share",
            100 * sum(p["units_verified"] for p in packages) / max(1, total["units"]),
            "% of all units",
            f"{sum(p['units_verified'] for p in packages)}/{total['units']} units agree with CPython on every "
            f"generated input (24 per function); {sum(p['units_mismatched'] for p in packages)} mismatched; "
            "target >= 25%",
        ),
        reporting.record(
            "crates_building",
            sum(p["crate_builds"] for p in packages),
            "crates (cargo build --offline)",
            f"of {len(packages)} packages",
        ),
        reporting.record(
            "pub_items_exported",
            sum(p["pub_items"] for p in packages),
            "pub items",
            "top-level `pub` fn/struct/enum/const/static/type items across the crates (before: 0)",
        ),
    ]
    for tool, label in (("depyler", "depyler 4.1.1 transpile"),):
        runs = [p[tool] for p in packages if p.get(tool)]
        if runs:
            produced, compiled, nfiles = (sum(x[k] for x in runs) for k in ("produced", "compiled", "files"))
            out.append(
                reporting.record(
                    f"{tool}_files_compiling",
                    compiled,
                    "files",
                    f"{label} on the same {nfiles} files: {produced} produced Rust, {compiled} compile with rustc "
                    "as a library",
                )
            )
    p2m = [p["py2many"] for p in packages if p.get("py2many")]
    if p2m:
        produced, compiled, nfiles = (sum(x[k] for x in p2m) for k in ("produced", "compiled", "files"))
        out.append(
            reporting.record(
                "py2many_files_compiling",
                compiled,
                "files",
                f"py2many 0.9 --rust on the same {nfiles} files: {produced} produced Rust, {compiled} compile "
                "with rustc as a library (its output needs no crate of ours; ours is measured per unit above)",
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="package names from the lock")
    parser.add_argument("--no-py2many", action="store_true", help="skip py2many and depyler (the comparison)")
    parser.add_argument("--keep", type=Path, help="keep the work directory here (crates, ledgers)")
    reporting.add_arguments(parser, NAME)
    args = parser.parse_args()
    pins = read_lock()
    wanted = [SMOKE_PACKAGE] if args.smoke else args.only
    if wanted:
        pins = [p for p in pins if p.name in wanted]
    base = args.keep or Path(tempfile.mkdtemp(prefix="portalis-corpus-"))
    try:
        packages = [measure(p, base, not args.no_py2many and not args.smoke) for p in pins]
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    results = records(packages)
    for p in packages:
        print(
            f"{p['package']:24} units {p['units']:4}  def/class in crate {p['def_class_units_in_crate']:4}"
            f"/{p['def_class_units']:<4} crate builds {p['crate_builds']}  pub {p['pub_items']}"
        )
    for r in results:
        print(f"{r['metric']:32} {r['value']:>8} {r['unit']} ({r['compared_with']})")
    if args.only and not args.smoke and args.out is None:
        reporting.check(results)  # a subset never replaces the committed figures
        return 0
    written = reporting.write(NAME, results, args.out, args.smoke)
    if written is not None and not args.smoke:
        details = written.with_name(f"{NAME}.packages.json")
        details.write_text(json.dumps(packages, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
