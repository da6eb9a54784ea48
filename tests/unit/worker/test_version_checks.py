"""`sys.version_info` checks are decided for the worker's Python, in units, the index and rules."""

from __future__ import annotations

import ast
import sys

import pytest

from portalis_worker.package_index import PackageIndex
from portalis_worker.rules import translate_module
from portalis_worker.rules.package_scope import PackageTranslator
from portalis_worker.units import split_source
from portalis_worker.version_checks import decide

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("sys.version_info >= (3, 8)", True),
        ("sys.version_info < (3, 8)", False),
        ("sys.version_info[:2] >= (3, 8)", True),
        ("sys.version_info[0] == 2", False),
        ("sys.version_info.major >= 3 and sys.version_info.minor >= 0", True),
        ("not sys.version_info >= (4,)", True),
        (f"sys.version_info >= ({sys.version_info[0]}, {sys.version_info[1] + 1})", False),
        ("sys.platform == 'win32'", None),
        ("sys.implementation.name == 'cpython'", True),
        ("sys.implementation.name != 'cpython'", False),
        ("getattr(sys, 'pypy_version_info', (0,)) < (7, 3, 22)", True),
        ("getattr(sys, 'version_info', (0,)) < (7, 3, 22)", None),
        ("sys.version_info >= (3, 8) and flag", None),
        ("sys.version_info >= '3.8'", None),
    ],
)
def test_decide(test: str, expected: bool | None) -> None:
    assert decide(ast.parse(test, mode="eval").body) is expected


SOURCE = (
    "import sys\n\n"
    "if sys.version_info >= (3, 8):\n"
    "    def width(s: str) -> int:\n        return len(s)\n"
    "else:\n"
    "    def width(s: str) -> int:\n        return -1\n\n"
    "def pick(n: int) -> int:\n"
    "    if sys.version_info < (3, 0):\n        return n\n"
    "    return n * 2 if sys.version_info >= (3, 1) else 0\n"
)


def test_a_definition_under_a_version_check_is_a_unit_and_translates() -> None:
    units = split_source("p/m.py", SOURCE, PackageIndex.build({"p/__init__.py": "", "p/m.py": SOURCE}))
    names = [u.name for u in units]
    assert names == ["width", "pick"]
    width = units[0]
    assert width.source.strip().endswith("return len(s)")
    translator = PackageTranslator(PackageIndex.build({"p/__init__.py": "", "p/m.py": SOURCE}))
    assert "s.chars().count()" in translator.translate_unit("p/m.py", width.source)
    pick = translator.translate_unit("p/m.py", units[1].source)
    assert "n * 2" in pick
    assert "sys" not in pick


def test_the_module_translator_decides_them_too() -> None:
    rust = translate_module(
        SOURCE.split("\nif ")[0] + "\n" + SOURCE.split("\n\ndef pick")[1].join(["\ndef pick", ""])
    )
    assert "n * 2" in rust
