"""Assembling the output Rust crate from the ledgers' unit records, and publishing it atomically.

The crate is a pure function of the unit records and the assignment: modules, items and report
entries are sorted, nothing carries a timestamp or a backend name, so any shard (or a rerun) that
assembles the same ledgers writes the same bytes, whatever faults and timing came before.

Layout, under `<output>/<crate name>/`:
- `Cargo.toml` (no dependencies), `src/lib.rs` (crate root: lint allowances, top-level modules and
  the root `__init__.py`'s units);
- one Rust module per Python module, mirroring packages: `a/b.py` -> `src/a/b.rs`, a package with
  children -> `src/a/mod.rs` (its `__init__.py` units, `pub mod` lines for its children);
- `TRANSLATION_REPORT.md` and `translation_report.json`: counts and every failed unit with reason.

Publishing: the crate is built in a temporary directory beside the target, fsync'd, then renamed
into place. An existing identical crate is left alone; a different one is swapped out (rename away,
rename in, delete), so a reader sees the old crate, briefly none, or the new one: never a mix.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from portalis_worker import support_crate
from portalis_worker.rules.context import RUST_KEYWORDS
from portalis_worker.rustcheck import compose

LOG = logging.getLogger(__name__)

RESERVED_MODULES = frozenset({"lib", "main", "bin", "std", "core", "alloc", "proc_macro", "test"})
"""`lib`/`main`/`bin` would collide with Cargo's target files; the others would shadow crates."""
LINT_ALLOWANCES = "#![allow(dead_code, unused, non_snake_case, non_camel_case_types, non_upper_case_globals)]"
STALE_TEMP_SECONDS = 3600


def rust_ident(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    if ident in RUST_KEYWORDS or ident in RESERVED_MODULES or ident == "_":
        ident += "_"
    return ident


def module_path(source_path: str) -> tuple[str, ...]:
    """The Python module path of a source file: `a/b.py` -> (a, b); `a/__init__.py` -> (a,)."""
    parts = list(PurePosixPath(source_path).parts)
    last = parts.pop()
    stem = last.split(".", 1)[0] if not last.startswith(".") else last
    if stem != "__init__":
        parts.append(stem)
    return tuple(parts)


def rust_module_paths(source_paths: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Rust module path of each source path; sanitising collisions get a short hash, deterministically."""
    taken: dict[tuple[str, ...], str] = {}
    result: dict[str, tuple[str, ...]] = {}
    for path in sorted(set(source_paths)):
        rust = tuple(rust_ident(p) for p in module_path(path))
        if rust in taken and rust:
            digest = hashlib.sha256(path.encode()).hexdigest()[:6]
            rust = (*rust[:-1], f"{rust[-1]}_{digest}")
        taken[rust] = path
        result[path] = rust
    return result


@dataclass
class _Node:
    children: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    units: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CrateInputs:
    crate_name: str
    edition: str
    files: list[str]
    """Every source path of every shard (files without units still get a module)."""
    units: list[Mapping[str, Any]]
    """Unit records (first wins per id)."""


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _cell(text: object) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return _comment(str(text)).replace("|", "\\|")


def _names(rust: str, dependency: str) -> bool:
    """Whether a unit's Rust names the definition `path::name` (a class translated without the
    methods that used a failed dependency no longer needs it)."""
    name = dependency.rsplit("::", 1)[-1]
    return re.search(rf"\b{re.escape(name)}\b", rust) is not None


def without_missing_dependencies(units: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The units, with every translated unit whose dependencies (`deps`: `path::name` of the package
    definitions it uses, and that its Rust still names) are not all translated turned into a
    failure of reason `dependency`.

    A unit is checked against its dependencies' own translations, but a dependency can still fail
    its file's check; a crate must never name an item it does not contain. Repeated to a fixpoint,
    since a unit dropped this way can be another's dependency."""
    out = [dict(u) for u in units]
    while True:
        present = {f"{u['path']}::{u['name']}" for u in out if u.get("status") == "translated"}
        changed = False
        for unit in out:
            if unit.get("status") != "translated":
                continue
            rust = str(unit.get("rust") or "")
            missing = sorted(
                str(d) for d in unit.get("deps") or () if str(d) not in present and _names(rust, str(d))
            )
            if missing:
                unit.update(
                    status="failed",
                    reason="dependency",
                    message=f"uses {missing[0].replace('::', ' ')}, which was not translated",
                )
                unit.pop("rust", None)
                changed = True
        if not changed:
            return list[Mapping[str, Any]](out)


def render(inputs: CrateInputs, fmt: Callable[[str], str] = lambda text: text) -> dict[str, bytes]:
    """Relative path -> content of every file of the crate; `fmt` formats each Rust module's text."""
    paths = rust_module_paths([*inputs.files, *(str(u["path"]) for u in inputs.units)])
    nodes: dict[tuple[str, ...], _Node] = {(): _Node()}
    for src, rust in paths.items():
        for depth in range(len(rust)):
            nodes.setdefault(rust[:depth], _Node()).children.add(rust[depth])
            nodes.setdefault(rust[: depth + 1], _Node())
        nodes[rust].sources.append(src)
    for unit in without_missing_dependencies(inputs.units):
        nodes[paths[str(unit["path"])]].units.append(unit)

    files: dict[str, bytes] = {}
    for rust_path, node in sorted(nodes.items()):
        lines: list[str] = []
        if not rust_path:
            lines += [
                f"//! Crate `{inputs.crate_name}`, translated from Python by Portalis.",
                "//! Units that were not translated are listed in TRANSLATION_REPORT.md.",
                "",
                LINT_ALLOWANCES,
                "",
            ]
        else:
            origin = ", ".join(f"`{s}`" for s in sorted(node.sources)) or "a namespace package"
            lines += [f"//! Translated from {origin}.", ""]
        if node.children:
            lines += [f"pub mod {child};" for child in sorted(node.children)] + [""]
        ordered = sorted(node.units, key=lambda u: (str(u["path"]), int(u["order"]), str(u["id"])))
        translated = [(str(u["id"]), str(u["rust"])) for u in ordered if u.get("status") == "translated"]
        body = compose(translated).text
        if body:
            lines.append(body.rstrip("\n"))
            lines.append("")
        for unit in ordered:
            if unit.get("status") != "translated":
                lines.append(
                    f"// Not translated: `{unit['path']}` `{unit['name']}` ({unit.get('reason')}): "
                    f"{_comment(str(unit.get('message', '')))}"
                )
        text = fmt("\n".join(lines).rstrip("\n") + "\n")
        if not rust_path:
            rel = "src/lib.rs"
        elif node.children:
            rel = "src/" + "/".join(rust_path) + "/mod.rs"
        else:
            rel = "src/" + "/".join(rust_path) + ".rs"
        files[rel] = text.encode("utf-8")

    dependencies = ""
    if any(support_crate.USE_MARKER in text.decode() for path, text in files.items() if path.endswith(".rs")):
        files.update(support_crate.vendored_files())
        dependencies = f'{support_crate.CRATE_NAME} = {{ path = "{support_crate.VENDOR_DIR}" }}\n'
    files["Cargo.toml"] = (
        f'[package]\nname = "{inputs.crate_name}"\nversion = "0.1.0"\nedition = "{inputs.edition}"\n'
        "publish = false\nautobins = false\nautoexamples = false\nautotests = false\nautobenches = false\n"
        f'\n[lib]\npath = "src/lib.rs"\n\n[dependencies]\n{dependencies}'
    ).encode()
    files.update(render_report(inputs))
    return files


def render_report(
    inputs: CrateInputs, verification: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, bytes]:
    """TRANSLATION_REPORT.md and translation_report.json: counts, failures with reasons, and each
    translated unit's state: `verified` on N inputs, `mismatch` (with the smallest differing input),
    or `compiled` (in the crate, not differentially checked). `verification` is unit id -> verdict."""
    units = without_missing_dependencies(inputs.units)
    failures = sorted(
        (u for u in units if u.get("status") != "translated"),
        key=lambda u: (str(u["path"]), int(u["order"]), str(u["name"])),
    )
    verdicts = verification or {}
    states: Counter[str] = Counter()
    checked: list[dict[str, Any]] = []
    every: list[dict[str, Any]] = []  # each unit's state, in file order (`kubectl portalis report --all`)
    inferred: list[dict[str, Any]] = []  # units translated with types that inference wrote in
    from_memory: list[dict[str, Any]] = []  # units served from the translation memory (memory.py)
    for u in sorted(units, key=lambda u: (str(u["path"]), int(u["order"]), str(u["name"]))):
        if u.get("status") != "translated":
            every.append({"path": u["path"], "unit": u["name"], "state": "failed", "reason": u.get("reason")})
            continue
        verdict = verdicts.get(str(u["id"]))
        state = (
            str(verdict["state"])
            if verdict is not None and verdict["state"] != "unverifiable"
            else "compiled"
        )
        states[state] += 1
        entry: dict[str, Any] = {"path": u["path"], "unit": u["name"], "state": state}
        if u.get("types"):
            entry["types"] = u["types"]
            if u.get("model") == "unavailable":
                entry["model"] = "unavailable"
            inferred.append(entry)
        if isinstance(u.get("memory"), dict):
            entry["memory"] = u["memory"]
            from_memory.append(entry)
        every.append(entry)
        if verdict is not None:
            checked.append({"path": u["path"], "unit": u["name"], **verdict})
    total = len(units)
    report = {
        "crate": inputs.crate_name,
        "edition": inputs.edition,
        "files": len(set(inputs.files)),
        "units": {
            "total": total,
            "translated": total - len(failures),
            "failed": len(failures),
            "verified": states["verified"],
            "mismatch": states["mismatch"],
            "compiled": states["compiled"],
        },
        "failures": [
            {"path": u["path"], "unit": u["name"], "reason": u.get("reason"), "message": u.get("message")}
            for u in failures
        ],
        "verification": checked,
        "unit_states": every,
    }
    if from_memory:
        kinds = Counter(str(e["memory"].get("match")) for e in from_memory)
        report["memory"] = {"served": len(from_memory), **{k: kinds[k] for k in sorted(kinds)}}
    md = [
        f"# Translation report: `{inputs.crate_name}`",
        "",
        f"{total} units in {report['files']} files: {total - len(failures)} translated, "
        f"{len(failures)} failed.",
        "",
    ]
    if checked:
        md += [
            f"Differential check against CPython: {states['verified']} verified, {states['mismatch']} "
            f"mismatched, {states['compiled']} compiled but not checked (types without generated inputs).",
            "",
        ]
    if failures:
        md += ["| file | unit | reason | message |", "| --- | --- | --- | --- |"]
        md += [
            f"| `{u['path']}` | `{u['name']}` | {u.get('reason')} | {_cell(u.get('message', ''))} |"
            for u in failures
        ]
    if inferred:
        md += _inferred_types_section(inferred)
    if from_memory:
        md += _memory_section(from_memory)
    mismatches = [c for c in checked if c["state"] == "mismatch"]
    if mismatches:
        md += [
            "",
            "## Mismatches with CPython",
            "",
            "| file | unit | smallest differing input |",
            "| --- | --- | --- |",
        ]
        md += [f"| `{c['path']}` | `{c['unit']}` | {_cell(c.get('detail', ''))} |" for c in mismatches]
    return {
        "translation_report.json": (json.dumps(report, indent=2, sort_keys=True) + "\n").encode(),
        "TRANSLATION_REPORT.md": ("\n".join(md) + "\n").encode(),
    }


def _memory_section(units: list[dict[str, Any]]) -> list[str]:
    """Which units the translation memory served, and from what (memory.py)."""
    kinds = Counter(str(u["memory"].get("match")) for u in units)
    how = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    md = [
        "",
        "## Translation memory",
        "",
        f"{len(units)} units were served from the translation memory ({how}): `exact` and `body` reuse a"
        " translation of the same code, `types` the types a near-duplicate was translated with; each was"
        " checked by rustc with its file like any other translation.",
        "",
        "| file | unit | match | similarity | from |",
        "| --- | --- | --- | --- | --- |",
    ]
    for u in units:
        m = u["memory"]
        origin = f"`{m.get('job')}` `{m.get('path')}` ({m.get('state')})"
        md.append(
            f"| `{u['path']}` | `{u['unit']}` | {m.get('match')} | {m.get('similarity')} | {_cell(origin)} |"
        )
    return md


def _inferred_types_section(units: list[dict[str, Any]]) -> list[str]:
    """Which types inference wrote into translated units, and how each was found (typed_rules.py)."""
    sources = Counter(str(t["source"]) for u in units for t in u["types"].values())
    how = ", ".join(f"{n} from {source}" for source, n in sorted(sources.items()))
    md = ["", "## Inferred types", "", f"{len(units)} units were translated with inferred types ({how}).", ""]
    without = sum(1 for u in units if u.get("model") == "unavailable")
    if without:
        md += [
            f"{without} of them were typed by the rules alone: the type model's server did not answer and"
            " the job allows going on without it (`spec.model.fallback: rules`).",
            "",
        ]
    md += ["| file | unit | types (how found) |", "| --- | --- | --- |"]
    for u in units:
        types = "; ".join(f"`{slot}`: `{t['type']}` ({t['source']})" for slot, t in u["types"].items())
        md.append(f"| `{u['path']}` | `{u['unit']}` | {_cell(types)} |")
    return md


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    dirs = {root}
    for rel, content in sorted(files.items()):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        dirs.update(p for p in target.parents if root in (p, *p.parents))
        with open(target, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        _fsync_path(d)


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


def _remove_stale_temps(parent: Path, name: str) -> None:
    for entry in parent.glob(f".{name}.*-*"):
        try:
            if time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def publish(files: Mapping[str, bytes], target: Path) -> bool:
    """Put the crate at `target` atomically. Returns False when an identical crate was already there."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(parent, target.name)
    tmp = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        _write_tree(tmp, files)
        try:
            os.rename(tmp, target)
        except OSError:
            if target.is_dir() and _same_tree(tmp, target):
                return False
            old = parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        _fsync_path(parent)
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
