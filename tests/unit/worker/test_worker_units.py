"""Unit splitting, normalised keys and ids, shard rule, and per-file failure kinds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portalis_worker.sharding import shard_of
from portalis_worker.units import FILE_UNIT, MODULE_UNIT, split_file, split_source

pytestmark = pytest.mark.unit

A = """import math
from typing import List

def hyp(a: float, b: float) -> float:
    return math.sqrt(a * a + b * b)
"""

B = '''"""Another module, with other things first."""
import os
import math  # used below


class Thing:
    """A class."""

    def get(self) -> int:
        return 1


def hyp(a: float,
        b: float) -> float:
    """Hypotenuse."""
    # a comment that must not matter
    return math.sqrt(a*a + b*b)
'''


def test_split_functions_classes_and_module_code() -> None:
    src = "import math\nX = 1\n\ndef f() -> int:\n    return 1\n\n@dec\nclass C:\n    pass\nprint(X)\n"
    units = split_source("m.py", src)
    assert [(u.name, u.order) for u in units] == [(MODULE_UNIT, 0), ("f", 1), ("C", 2)]
    assert units[0].source == "X = 1\nprint(X)\n"
    assert units[2].source.startswith("@dec\nclass C:")
    assert "import math" not in units[1].source, "imports a unit does not use are left out"


def test_identical_code_shares_the_key_whatever_comments_docstrings_and_position() -> None:
    a = {u.name: u for u in split_source("a.py", A)}
    b = {u.name: u for u in split_source("pkg/b.py", B)}
    assert a["hyp"].key == b["hyp"].key
    assert a["hyp"].id != b["hyp"].id, "the id is per file"
    assert "import math" in a["hyp"].source
    assert "import os" not in b["hyp"].source


def test_different_code_or_name_gives_another_key() -> None:
    base = split_source("a.py", "def f(a: int) -> int:\n    return a + 1\n")[0]
    renamed = split_source("a.py", "def g(a: int) -> int:\n    return a + 1\n")[0]
    changed = split_source("a.py", "def f(a: int) -> int:\n    return a + 2\n")[0]
    other_import = split_source(
        "a.py", "import numpy as math\ndef f(a: int) -> int:\n    return math.x(a)\n"
    )[0]
    same_import = split_source("a.py", "import math\ndef f(a: int) -> int:\n    return math.x(a)\n")[0]
    assert len({base.key, renamed.key, changed.key}) == 3
    assert other_import.key != same_import.key


def test_redefinitions_get_distinct_ids() -> None:
    units = split_source("a.py", "def f() -> int:\n    return 1\n\ndef f() -> int:\n    return 1\n")
    assert units[0].key == units[1].key
    assert units[0].id != units[1].id


def test_shard_rule_is_deterministic_and_keeps_files_whole() -> None:
    paths = [f"pkg/m{i}.py" for i in range(200)]
    owners = [shard_of(p, 4) for p in paths]
    assert owners == [shard_of(p, 4) for p in paths]
    assert set(owners) == {0, 1, 2, 3}
    assert all(shard_of(p, 1) == 0 for p in paths)


def _one_failure(tmp_path: Path, name: str, content: bytes, max_bytes: int = 1 << 20) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(content)
    units = split_file(name, path, max_bytes)
    assert len(units) == 1
    assert units[0].name == FILE_UNIT
    assert units[0].failure is not None
    return units[0].failure.reason, units[0].failure.message


def test_syntax_error(tmp_path: Path) -> None:
    assert _one_failure(tmp_path, "s.py", b"def f(:\n")[0] == "syntax-error"


def test_non_utf8(tmp_path: Path) -> None:
    reason, message = _one_failure(tmp_path, "latin.py", "x = 'caf\u00e9'\n".encode("latin-1"))
    assert reason == "non-utf8"
    assert "byte" in message


def test_binary_junk(tmp_path: Path) -> None:
    junk = bytes(range(256)) * 64 + os.urandom(4096)
    assert _one_failure(tmp_path, "junk.py", junk)[0] == "binary"


def test_fifty_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.py"
    with open(path, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: cheap to create
    units = split_file("huge.py", path, 4 * 1024 * 1024)
    assert units[0].failure is not None
    assert units[0].failure.reason == "too-large"


@pytest.mark.parametrize(
    ("source", "reasons"),
    [
        ("x = " + "+".join(["1"] * 200_000) + "\n", {"too-deep"}),
        ("x = a" + ".b" * 200_000 + "\n", {"too-deep"}),
        ("x = " + "-" * 200_000 + "1\n", {"too-deep"}),
        ("x = " + "(" * 300 + "1" + ")" * 300 + "\n", {"syntax-error"}),
        ("".join(" " * i + "if x:\n" for i in range(150)) + " " * 150 + "pass\n", {"syntax-error"}),
    ],
    ids=["binop", "attribute", "unary", "parens", "indent"],
)
def test_deep_nesting_fails_the_file_not_the_worker(tmp_path: Path, source: str, reasons: set[str]) -> None:
    assert _one_failure(tmp_path, "deep.py", source.encode())[0] in reasons


def test_moderately_deep_code_parses_but_too_deep_to_hash_is_a_failure() -> None:
    src = "def f() -> int:\n    return " + "+".join(["1"] * 5000) + "\n"
    units = split_source("d.py", src)
    assert len(units) == 1
    assert units[0].failure is None or units[0].failure.reason == "too-deep"
