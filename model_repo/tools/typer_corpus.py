"""The type model's corpus: typed functions from real code, annotations masked, split by package.

Sources (docs/model.md, data card): the typeshed stubs that ship with mypy (`typeshed/stdlib`, each
top-level module a package) and the typed pure-Python packages pinned in `typer_packages.txt`,
installed into a training environment of their own (`make train-typer`). Nothing from HumanEval or
MultiPL-E: their licence forbids training on them, and they are our test.

Each annotated parameter (not self/cls, *args, **kwargs) and each annotated return becomes one
example: the slot's text (typer_features.slot_texts, which never reads an annotation) and its label,
the annotation in typeinfer's term language when it is one the translator knows (int, str, list[str],
dict[str, int] | None, ...); other annotations are left out. Examples are de-duplicated on (text,
label); `Sequence`/`Iterable`/`Mapping`/`AbstractSet` are read as list/dict/set (the types the
translator gives them); a package goes wholly to train or to test (a stable hash of its name), and
a test example whose text also occurs in train is dropped.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portalis_worker.model.typer_features import slot_texts
from portalis_worker.typeinfer.inference import functions
from portalis_worker.typeinfer.terms import Term, of_annotation

TEST_SHARE = 20
"""Percent of packages held out for test."""
EXCLUDED = frozenset({"humaneval", "human_eval", "multipl_e", "multiple"})


@dataclass(frozen=True)
class Example:
    package: str
    kind: str
    text: str
    label: str


def package_roots(site: Path) -> Iterator[tuple[str, Path]]:
    """(package name, directory or single module) of each top-level import package in `site`."""
    for entry in sorted(site.iterdir()):
        name = entry.name
        if name.startswith(("_", ".")) or name.endswith((".dist-info", ".egg-info", ".pth", ".data")):
            continue
        if entry.is_dir() and ((entry / "__init__.py").exists() or (entry / "__init__.pyi").exists()):
            yield name, entry
        elif entry.suffix in (".py", ".pyi") and entry.is_file():
            yield entry.stem, entry


def files_of(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".py", ".pyi") and "test" not in p.parts)


def examples_of(package: str, source: str) -> Iterator[Example]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return
    classes = frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    for qualname, func, params in functions(tree):
        annotations = {
            a.arg: a.annotation for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)
        }
        annotations["<return>"] = func.returns
        for slot in slot_texts(func, qualname, params):
            node = annotations.get(slot.name)
            if node is None:
                continue
            term = of_annotation(_concrete(node), classes)
            if not term.complete or term.kind == "none" or _has_class(term):
                continue
            yield Example(package, slot.kind, slot.text, term.render())


_CONCRETE = {
    **dict.fromkeys(("Sequence", "MutableSequence", "Iterable", "Collection"), "List"),
    **dict.fromkeys(("Mapping", "MutableMapping"), "Dict"),
    **dict.fromkeys(("AbstractSet", "MutableSet"), "Set"),
}


def _concrete(node: ast.expr) -> ast.expr:
    """`Sequence[str]` as `List[str]`, `Mapping[...]` as `Dict[...]`: the type the translator gives them."""
    node = copy.deepcopy(node)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in _CONCRETE:
            sub.id = _CONCRETE[sub.id]
        elif isinstance(sub, ast.Attribute) and sub.attr in _CONCRETE:
            sub.attr = _CONCRETE[sub.attr]
    return node


def _has_class(term: Term) -> bool:
    return term.kind == "class" or any(_has_class(a) for a in term.args)


def collect(roots: list[tuple[str, Path]]) -> list[Example]:
    out: list[Example] = []
    for package, root in roots:
        if package.lower() in EXCLUDED:
            continue
        for path in files_of(root):
            try:
                source = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            out.extend(examples_of(package, source))
    return out


def is_test_package(package: str) -> bool:
    digest = hashlib.blake2b(package.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") % 100 < TEST_SHARE


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, test): de-duplicated, split by package, test texts that occur in train dropped."""
    seen: set[tuple[str, str]] = set()
    train: list[Example] = []
    test: list[Example] = []
    for ex in examples:
        key = (ex.text, ex.label)
        if key in seen:
            continue
        seen.add(key)
        (test if is_test_package(ex.package) else train).append(ex)
    train_texts = {ex.text for ex in train}
    return train, [ex for ex in test if ex.text not in train_texts]


def typeshed_roots(typeshed: Path) -> list[tuple[str, Path]]:
    """Each top-level stdlib module of typeshed as a package (`typeshed:<name>`)."""
    stdlib = typeshed / "stdlib"
    return [(f"typeshed:{name}", root) for name, root in package_roots(stdlib)]
