"""Checking a module that uses other modules of the package, the way it will sit in the crate.

A module's units may `use crate::a::b::Name;`. The rustc check of one file then needs those items:
the checker wraps the module at its own path inside nested inline modules (`pub mod a { pub mod b {
... } }`) holding the translations of the definitions it uses (recursively, with the items of their
own modules that they call), and compiles that as
the crate. Errors are mapped back to the module's own units; an error inside a dependency's text is
that dependency's problem (it is checked in its own file) and is attributed to no unit here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from portalis_worker.rustcheck import ModuleText, RustcChecker, compose

USE = re.compile(r"^use crate::((?:[A-Za-z_][A-Za-z0-9_]*::)*)(r#)?([A-Za-z_][A-Za-z0-9_]*);$", re.MULTILINE)
WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
MAX_EXTERNAL_ITEMS = 256

Provider = Callable[[tuple[str, ...], str], str | None]
"""(Rust module path, item name) -> that item's Rust (with its own `use` lines), or None."""


def crate_uses(text: str) -> list[tuple[tuple[str, ...], str]]:
    """The (module path, name) of each `use crate::...::name;` line of a Rust text."""
    return [(tuple(p for p in m.group(1).split("::") if p), m.group(3)) for m in USE.finditer(text)]


class PackageChecker:
    def __init__(
        self,
        inner: RustcChecker,
        provider: Provider,
        module_of: Callable[[str], tuple[str, ...]],
        names_of: Callable[[tuple[str, ...]], frozenset[str]] = lambda _: frozenset(),
    ):
        self.inner = inner
        self.provider = provider
        self.module_of = module_of
        """Source path -> Rust module path."""
        self.names_of = names_of
        """Rust module path -> the Rust names of its definitions (what its items call without `use`)."""

    def check(self, parts: Sequence[tuple[str, str]], path: str | None = None) -> dict[str, str]:
        module = compose(parts)
        if not module.text or path is None:
            return self.inner.check_module(module)
        own = self.module_of(path)
        externals = self._externals(module.text, own)
        if not externals:
            return self.inner.check_module(module)
        return self.inner.check_module(wrap(module, own, externals))

    def _externals(self, text: str, own: tuple[str, ...]) -> dict[tuple[str, ...], list[str]]:
        found: dict[tuple[str, ...], list[str]] = {}
        seen: set[tuple[tuple[str, ...], str]] = set()
        pending = crate_uses(text)
        while pending and len(seen) < MAX_EXTERNAL_ITEMS:
            where, name = pending.pop()
            if (where, name) in seen or where == own:
                continue
            seen.add((where, name))
            rust = self.provider(where, name)
            if rust is None:
                continue  # rustc reports the unresolved import against the unit that uses it
            found.setdefault(where, []).append(rust)
            pending.extend(crate_uses(rust))
            # Names of its own module that the item uses without a `use` line (a private helper).
            local = self.names_of(where)
            words = set(WORD.findall(rust))
            pending.extend((where, word) for word in sorted(words & local) if word != name)
        return found


def wrap(module: ModuleText, own: tuple[str, ...], externals: dict[tuple[str, ...], list[str]]) -> ModuleText:
    """The crate text: `module` at `own`, each external text in its module; owners shifted to match."""
    paths = {own, *externals}
    tree: dict[tuple[str, ...], set[str]] = {}
    for p in paths:
        for depth in range(len(p)):
            tree.setdefault(p[:depth], set()).add(p[depth])
    lines: list[str] = []
    offset = 0

    def render(path: tuple[str, ...]) -> None:
        nonlocal offset
        if path in externals and path != own:
            body = compose([("", rust) for rust in externals[path]]).text
            lines.extend(body.splitlines())
        if path == own:
            offset = len(lines)
            lines.extend(module.text.splitlines())
        for child in sorted(tree.get(path, ())):
            lines.append(f"pub mod {child} {{")
            render((*path, child))
            lines.append("}")

    render(())
    owners = [(first + offset, last + offset, owner) for first, last, owner in module.owners]
    return ModuleText("\n".join(lines) + "\n", owners)
