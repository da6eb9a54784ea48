"""Checking candidates with rustc, in the context of their module.

A module's text is the concatenation of its units' Rust, with identical top-level items emitted once
(the rule-based translator repeats the small runtime helpers each unit uses). The checker compiles
that text as a library (`rustc --edition <ed> --crate-type lib --emit=metadata`) and maps each
error's primary span back to the unit that contributed the line, so one rustc run checks a whole
file and says which units broke it.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from portalis_worker import support_crate

LOG = logging.getLogger(__name__)

RUSTC_TIMEOUT_SECONDS = 300


class CheckAborted(Exception):
    """The check itself failed, so it says nothing about the module: `reason` is the units' failure."""

    reason = "rustc-crash"


class CheckTimeout(CheckAborted):
    """rustc did not finish checking a module within its time limit (a pathological file)."""

    reason = "rustc-timeout"


RUSTC_COMPILE_ERRORS = 1
"""rustc's exit code for "the crate has errors"; anything else but 0 (101: an internal compiler error,
a signal) is a crash."""


def split_items(rust: str) -> list[str]:
    """Top-level items of Rust source (attributes and doc comments stay with their item).

    A small lexer: brackets nest; strings, raw strings, chars, lifetimes and comments are skipped.
    An item ends at a top-level `;`, or at a `}` that closes to depth 0 unless `;`, `,` or `.` follows.
    """
    items: list[str] = []
    n = len(rust)
    i = start = depth = 0
    while i < n:
        c = rust[i]
        if c == "/" and rust.startswith("//", i):
            nl = rust.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if c == "/" and rust.startswith("/*", i):
            level, i = 1, i + 2
            while i < n and level:
                if rust.startswith("/*", i):
                    level, i = level + 1, i + 2
                elif rust.startswith("*/", i):
                    level, i = level - 1, i + 2
                else:
                    i += 1
            continue
        if (
            c == "r"
            and (rust.startswith('r"', i) or rust.startswith("r#", i))
            and (i == 0 or not (rust[i - 1].isalnum() or rust[i - 1] == "_"))
        ):
            j = i + 1
            while j < n and rust[j] == "#":
                j += 1
            if j < n and rust[j] == '"':
                closing = '"' + "#" * (j - i - 1)
                end = rust.find(closing, j + 1)
                i = n if end < 0 else end + len(closing)
                continue
        if c == '"':
            i += 1
            while i < n and rust[i] != '"':
                i += 2 if rust[i] == "\\" else 1
            i += 1
            continue
        if c == "'":
            # 'x', '\n', '\u{..}' are chars; 'a (no closing quote right after) is a lifetime.
            if i + 2 < n and rust[i + 1] == "\\":
                end = rust.find("'", i + 2)
                i = n if end < 0 else end + 1
                continue
            if i + 2 < n and rust[i + 2] == "'":
                i += 3
                continue
            i += 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
            if c == "}" and depth == 0:
                j = i + 1
                while j < n and rust[j] in " \t\r\n":
                    j += 1
                if j >= n or rust[j] not in ";,.":
                    items.append(rust[start : i + 1])
                    start = i + 1
        elif c == ";" and depth == 0:
            items.append(rust[start : i + 1])
            start = i + 1
        i += 1
    tail = rust[start:]
    if tail.strip():
        items.append(tail)
    return [item.strip("\n") for item in (it.rstrip() for it in items) if item.strip()]


@dataclass(frozen=True)
class ModuleText:
    text: str
    owners: list[tuple[int, int, str]]
    """(first line, last line, owner) of each contributed item; 1-based, inclusive."""

    def owner_of(self, line: int) -> str | None:
        for first, last, owner in self.owners:
            if first <= line <= last:
                return owner
        return None


def compose(parts: Sequence[tuple[str, str]]) -> ModuleText:
    """The module text of (owner, rust) parts in order; a repeated identical item is emitted once."""
    seen: set[str] = set()
    chunks: list[str] = []
    owners: list[tuple[int, int, str]] = []
    line = 1
    for owner, rust in parts:
        for item in split_items(rust):
            norm = item.strip()
            if norm in seen:
                continue
            seen.add(norm)
            count = item.count("\n") + 1
            owners.append((line, line + count - 1, owner))
            chunks.append(item)
            line += count + 1  # the blank line between items
    return ModuleText("\n\n".join(chunks) + ("\n" if chunks else ""), owners)


class Checker(Protocol):
    def check(self, parts: Sequence[tuple[str, str]], path: str | None = None) -> dict[str, str]:
        """Errors by owner (first message each) for the module made of `parts`; empty when it compiles.

        `path` is the source file the module comes from (where it sits in the crate). Errors that
        cannot be attributed to an owner are returned under the owner "". Raises `CheckAborted` when
        the check itself fails: `CheckTimeout` past the checker's limit, a crash of rustc."""
        ...


class RustcChecker:
    def __init__(
        self, rustc: str, edition: str, scratch_dir: Path, timeout_seconds: float = RUSTC_TIMEOUT_SECONDS
    ) -> None:
        found = shutil.which(rustc)
        if found is None:
            raise FileNotFoundError(
                f"rustc not found ({rustc!r}); PORTALIS_RUST_CHECK=false skips the checks"
            )
        self.rustc = found
        self.edition = edition
        self.scratch_dir = scratch_dir
        self.timeout_seconds = timeout_seconds

    def check(self, parts: Sequence[tuple[str, str]], path: str | None = None) -> dict[str, str]:
        return self.check_module(compose(parts))

    def check_module(self, module: ModuleText) -> dict[str, str]:
        if not module.text:
            return {}
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="portalis-check-", dir=self.scratch_dir) as tmp:
            src = Path(tmp) / "unit.rs"
            src.write_text(module.text, encoding="utf-8")
            # Code that uses the support crate (`portalis_py::re`) is checked against its rlib.
            extra = (
                support_crate.extern_args(self.rustc, self.edition, self.scratch_dir / "support")
                if support_crate.USE_MARKER in module.text
                else []
            )
            try:
                proc = self._rustc(src, Path(tmp) / "out.rmeta", extra)
            except subprocess.TimeoutExpired as exc:
                raise CheckTimeout(f"rustc did not finish within {self.timeout_seconds:g} s") from exc
        if proc.returncode == 0:
            return {}
        if proc.returncode != RUSTC_COMPILE_ERRORS:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            raise CheckAborted(f"rustc crashed (exit {proc.returncode}): {tail[0][:200]}")
        errors: dict[str, str] = {}
        for line in proc.stderr.splitlines():
            try:
                diag = json.loads(line)
            except ValueError:
                continue
            if not isinstance(diag, dict) or diag.get("level") != "error":
                continue
            code = (diag.get("code") or {}).get("code")
            message = f"{code}: {diag.get('message')}" if code else str(diag.get("message"))
            owner = ""
            for span in diag.get("spans") or []:
                if span.get("is_primary"):
                    owner = module.owner_of(int(span.get("line_start", 0))) or ""
                    break
            if owner or not message.startswith("aborting"):
                errors.setdefault(owner, message)
        if not errors:
            errors[""] = f"rustc exited {proc.returncode}"
        return errors

    def _rustc(self, src: Path, out: Path, extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        """Raises subprocess.TimeoutExpired (the child is killed) past `timeout_seconds`."""
        return subprocess.run(
            [
                self.rustc,
                "--edition",
                self.edition,
                "--crate-type",
                "lib",
                "--emit=metadata",
                "--crate-name",
                "portalis_check",
                "--error-format=json",
                "-A",
                "warnings",
                *extra,
                "-o",
                str(out),
                str(src),
            ],
            capture_output=True,
            text=True,
            timeout=self.timeout_seconds,
            check=False,
        )
