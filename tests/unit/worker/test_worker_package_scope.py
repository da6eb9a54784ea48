"""Package-scope translation: the index, cross-module units, constants, `pub`, keys, crate pruning.

The end-to-end case runs the real worker (rules backend, rustc check per file, ledger, assembly) on a
small package whose units call each other across modules, builds the crate with rustc, and compares
what the compiled functions return with CPython on the same inputs.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from worker_builders import worker_env, write_project

from portalis_worker import support_crate
from portalis_worker.assignment import load_assignment
from portalis_worker.backends import CacheBackend, RulesBackend
from portalis_worker.crate import without_missing_dependencies
from portalis_worker.ledger import LocalFileStore
from portalis_worker.loop import Worker, assemble_if_complete, build_index
from portalis_worker.package_index import PackageIndex
from portalis_worker.progress import NullReporter
from portalis_worker.rules import Unsupported
from portalis_worker.rules.package_scope import PackageTranslator
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources
from portalis_worker.units import split_source

PACKAGE = {
    "geo/__init__.py": '"""Geometry."""\nfrom .shapes import area as surface\n\n__all__ = ["surface"]\n',
    "geo/consts.py": (
        "from typing import Final\n\n"
        "SCALE: Final = 3\n"
        "OFFSET = -2\n"
        'NAMES = ["unit", "pair", "triple"]\n'
        "LIMITS: dict[str, int] = {'low': 1, 'high': 9}\n"
    ),
    "geo/shapes.py": (
        "from .consts import SCALE as K, LIMITS\n\n\n"
        "def area(w: int, h: int) -> int:\n    return _scaled(w * h)\n\n\n"
        "def _scaled(v: int) -> int:\n    return v * K\n\n\n"
        "def clamp(v: int) -> int:\n"
        "    return max(LIMITS['low'], min(LIMITS['high'], v))\n\n\n"
        "class Box:\n"
        "    def __init__(self, w: int, h: int) -> None:\n        self.w = w\n        self.h = h\n\n"
        "    def size(self) -> int:\n        return area(self.w, self.h)\n"
    ),
    "geo/report.py": (
        "from geo import surface\n"
        "from geo.consts import NAMES, OFFSET\n"
        "from geo.shapes import Box, clamp\n\n\n"
        "def describe(i: int) -> str:\n"
        "    return NAMES[i % len(NAMES)] + ':' + str(surface(i, i + 1) + OFFSET)\n\n\n"
        "def boxed(w: int, h: int) -> int:\n    return clamp(Box(w, h).size())\n"
    ),
    "geo/broken.py": "import socket\n\n\ndef host() -> str:\n    return socket.gethostname()\n",
    "geo/uses_broken.py": "from .broken import host\n\n\ndef greeting() -> str:\n    return 'hi ' + host()\n",
}


def index_of(files: dict[str, str]) -> PackageIndex:
    return PackageIndex.build(files)


def test_index_resolves_relative_absolute_aliased_and_reexported_names() -> None:
    index = index_of(PACKAGE)
    assert index.resolve("geo", "surface") is index.modules["geo.shapes"].definitions["area"]
    assert index.resolve("geo.shapes", "K") is index.modules["geo.consts"].definitions["SCALE"]
    assert index.resolve("geo.report", "surface").name == "area"  # through the __init__ re-export
    assert index.resolve("geo.report", "socket") is None  # the standard library is not the package's
    assert index.modules["geo"].exported == frozenset({"surface"})
    assert index.modules["geo.shapes"].rust_path == ("geo", "shapes")


def test_dependencies_skip_locals_and_the_unit_itself() -> None:
    index = index_of(
        {"p/__init__.py": "", "p/a.py": "X = 1\n\ndef f(n: int) -> int:\n    X = n\n    return f(X)\n"}
    )
    node = index.modules["p.a"].definitions["f"].node
    assert index.dependencies("p.a", [node]) == {}


def test_a_signature_change_changes_the_callers_key_and_a_body_change_does_not() -> None:
    caller = "from .b import g\n\ndef f(n: int) -> int:\n    return g(n)\n"

    def key_of_f(callee: str) -> str:
        files = {"p/__init__.py": "", "p/a.py": caller, "p/b.py": callee}
        (unit,) = [u for u in split_source("p/a.py", caller, index_of(files)) if u.name == "f"]
        assert unit.deps == ("p/b.py::g",)
        return unit.key

    base = key_of_f("def g(n: int) -> int:\n    return n + 1\n")
    assert key_of_f("def g(n: int) -> int:\n    return n + 2\n") == base
    assert key_of_f("def g(n: int, m: int = 0) -> int:\n    return n + m\n") != base


def test_units_are_pub_when_public_and_crate_visible_when_private() -> None:
    translator = PackageTranslator(index_of(PACKAGE))
    area = translator.translate_unit("geo/shapes.py", PACKAGE["geo/shapes.py"].split("\n\n\n")[1])
    assert "pub fn area(" in area
    private = translator.translate_unit("geo/shapes.py", PACKAGE["geo/shapes.py"].split("\n\n\n")[2])
    assert "pub(crate) fn _scaled(" in private
    describe = translator.translate_unit("geo/report.py", PACKAGE["geo/report.py"])
    assert "use crate::geo::consts::NAMES;" in describe
    assert "use crate::geo::shapes::area;" in describe  # `surface` is area, re-exported by geo


def test_a_dependency_that_does_not_translate_fails_the_unit_by_name() -> None:
    translator = PackageTranslator(index_of(PACKAGE))
    with pytest.raises(Unsupported, match="import socket"):
        translator.translate_unit("geo/uses_broken.py", PACKAGE["geo/uses_broken.py"])


def test_units_whose_dependencies_failed_are_dropped_from_the_crate_transitively() -> None:
    units = [
        {"path": "a.py", "name": "f", "status": "failed", "reason": "unsupported", "message": "x"},
        {"path": "b.py", "name": "g", "status": "translated", "rust": "fn g() { f() }", "deps": ["a.py::f"]},
        {"path": "b.py", "name": "h", "status": "translated", "rust": "fn h() { g() }", "deps": ["b.py::g"]},
        {"path": "b.py", "name": "k", "status": "translated", "rust": "fn k() {}"},
        # A class translated without the method that called f no longer names it: it stays.
        {"path": "b.py", "name": "C", "status": "translated", "rust": "struct C {}", "deps": ["a.py::f"]},
    ]
    out = {u["name"]: u for u in without_missing_dependencies(units)}
    assert out["g"]["status"] == out["h"]["status"] == "failed"
    assert out["g"]["reason"] == "dependency"
    assert "a.py f" in out["g"]["message"]
    assert "rust" not in out["h"]
    assert out["k"]["status"] == "translated"
    assert out["C"]["status"] == "translated"


def _translated_crate(tmp_path: Path, source: Path, name: str) -> Path:
    """The real worker (rules backend, rustc check per file, ledger, assembly) on `source`: the
    assembled crate's directory."""
    a = load_assignment(worker_env(tmp_path, source, PORTALIS_RUST_CHECK="true", PORTALIS_CRATE_NAME=name))
    cache = CacheBackend()
    store = LocalFileStore(a.ledger_dir / "shard-0.ledger")
    worker = Worker(
        a, store, [cache, RulesBackend()], cache, RustcChecker("rustc", "2021", a.scratch_dir), NullReporter()
    )
    assert worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    store.close()
    assert assemble_if_complete(a)
    return a.output_dir / name


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is required")
def test_a_package_translates_to_a_crate_that_builds_and_agrees_with_cpython(tmp_path: Path) -> None:
    source = write_project(tmp_path / "src", PACKAGE)
    crate = _translated_crate(tmp_path, source, "geo")
    report = (crate / "TRANSLATION_REPORT.md").read_text()
    failed = {line.split("`")[3] for line in report.splitlines() if line.startswith("| `")}
    assert failed == {"host", "greeting"}, report  # socket is refused; greeting depends on it

    rlib = tmp_path / "libgeo.rlib"
    build = subprocess.run(
        [
            *("rustc", "--edition", "2021", "--crate-type", "rlib", "--crate-name", "geo"),
            *("-o", str(rlib), str(crate / "src" / "lib.rs")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    inputs = [0, 1, 2, 5, -3]
    probe = tmp_path / "probe.rs"
    calls = "\n".join(
        f'    println!("{{}}|{{}}|{{}}", geo::geo::report::describe({i}), geo::geo::report::boxed({i}, 2), '
        f"geo::geo::shapes::Box::new({i}, 3).size());"
        for i in inputs
    )
    probe.write_text(f"fn main() {{\n{calls}\n}}\n")
    binary = tmp_path / "probe"
    link = subprocess.run(
        ["rustc", "--edition", "2021", "--extern", f"geo={rlib}", "-o", str(binary), str(probe)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert link.returncode == 0, link.stderr
    rust_lines = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.splitlines()

    sys.path.insert(0, str(source))
    try:
        report_mod = importlib.import_module("geo.report")
        shapes = importlib.import_module("geo.shapes")
        expected = [
            f"{report_mod.describe(i)}|{report_mod.boxed(i, 2)}|{shapes.Box(i, 3).size()}" for i in inputs
        ]
    finally:
        sys.path.remove(str(source))
        for name in [m for m in sys.modules if m == "geo" or m.startswith("geo.")]:
            del sys.modules[name]
    assert rust_lines == expected


def test_module_constants_are_units_of_their_own() -> None:
    index = index_of(PACKAGE)
    names = [u.name for u in split_source("geo/consts.py", PACKAGE["geo/consts.py"], index)]
    assert names == ["SCALE", "OFFSET", "NAMES", "LIMITS"]
    translator = PackageTranslator(index)
    rust = translator.translate_unit("geo/consts.py", "NAMES = ['unit', 'pair', 'triple']\n")
    assert "pub static NAMES: std::sync::LazyLock<Vec<String>>" in rust


def test_type_aliases_are_expanded_in_users_and_exported_as_rust_type_aliases() -> None:
    files = {
        "p/__init__.py": "",
        "p/t.py": "from typing import Dict, TypeAlias\nPos = int\nTable: TypeAlias = Dict[str, Pos]\n",
        "p/a.py": "from .t import Pos, Table\n\ndef f(p: Pos, t: Table) -> Pos:\n    return p + t['x']\n",
    }
    translator = PackageTranslator(index_of(files))
    user = translator.translate_unit("p/a.py", files["p/a.py"])
    assert "pub fn f(p: isize, t: HashMap<String, isize>) -> isize" in user
    alias = translator.translate_unit(
        "p/t.py", "from typing import Dict, TypeAlias\nTable: TypeAlias = Dict[str, Pos]\n"
    )
    assert "pub type Table = HashMap<String, isize>;" in alias


def test_a_constant_that_module_code_changes_is_refused() -> None:
    files = {
        "p/__init__.py": "",
        "p/c.py": (
            "WORDS = ['a']\nLIMIT = 3\nNAME = 'x'\n\n"
            "def _add(w: str) -> None:\n    WORDS.append(w)\n\n"
            "_add('b')\n"
        ),
    }
    translator = PackageTranslator(index_of(files))
    with pytest.raises(Unsupported, match="constant WORDS may be changed by module code at line 8"):
        translator.translate_unit("p/c.py", "WORDS = ['a']\n")
    assert "pub const LIMIT: isize = 3;" in translator.translate_unit("p/c.py", "LIMIT = 3\n")
    # Import-time code that cannot reach the constant leaves it alone: a version check whose branch
    # defines a function using it, a call of a standard-library function, a function of the package
    # that does not use it.
    harmless = {
        "p/__init__.py": "",
        "p/e.py": (
            "import sys\n\nTABLE = {'a': 'b'}\n\n"
            "def _other() -> int:\n    return 1\n\n"
            "if sys.version_info >= (3, 8):\n"
            "    def lookup(k: str) -> str:\n        return TABLE[k]\n"
            "_other()\nprint(len('x'))\n"
        ),
    }
    assert "TABLE" in PackageTranslator(index_of(harmless)).translate_unit("p/e.py", "TABLE = {'a': 'b'}\n")
    handed = {
        "p/__init__.py": "",
        "p/g.py": (
            "PAIRS = [('a', 'b')]\nCOPY = PAIRS + [('c', 'd')]\n\n"
            "def grow(xs: list[tuple[str, str]]) -> list[tuple[str, str]]:\n"
            "    xs.append(('x', 'y'))\n    return xs\n\n"
            "MORE = grow(PAIRS)\n"
        ),
    }
    with pytest.raises(Unsupported, match="constant PAIRS may be changed by module code at line 8"):
        PackageTranslator(index_of(handed)).translate_unit("p/g.py", "PAIRS = [('a', 'b')]\n")
    reflective = {"p/__init__.py": "", "p/f.py": "T = {'a': 1}\nglobals()['T'] = {}\n"}
    with pytest.raises(Unsupported, match="constant T may be changed by module code at line 2"):
        PackageTranslator(index_of(reflective)).translate_unit("p/f.py", "T = {'a': 1}\n")
    rebound = {"p/__init__.py": "", "p/d.py": "X = [1]\nX = X + [2]\n"}
    with pytest.raises(Unsupported, match="constant X assigned more than once"):
        PackageTranslator(index_of(rebound)).translate_unit("p/d.py", "X = [1]\n")


def test_new_types_are_aliases_and_type_variables_have_no_item() -> None:
    files = {
        "p/__init__.py": "",
        "p/a.py": (
            "from typing import NewType, TypeVar\n\n"
            "T = TypeVar('T', bound=str)\n"
            "Name = NewType('Name', str)\n\n"
            "def norm(s: str) -> Name:\n    return Name(s.lower())\n\n"
            "def twice(n: Name) -> str:\n    return n + norm(n)\n"
        ),
    }
    translator = PackageTranslator(index_of(files))
    assert "pub type Name = String;" in translator.translate_unit(
        "p/a.py", "from typing import NewType\nName = NewType('Name', str)\n"
    )
    norm = translator.translate_unit("p/a.py", "def norm(s: str) -> Name:\n    return Name(s.lower())\n")
    assert "pub fn norm(s: String) -> String" in norm
    assert "Name(" not in norm
    variable = translator.translate_unit(
        "p/a.py", "from typing import TypeVar\nT = TypeVar('T', bound=str)\n"
    )
    assert "fn " not in variable
    assert "T: a type variable" in variable
    hint = translator.translate_unit("p/a.py", '__lazy_modules__ = {"re", f"{__spec__.parent}.x"}\n')
    assert "__lazy_modules__: an interpreter hint" in hint
    assert "pub fn twice(n: String) -> String" in translator.translate_unit(
        "p/a.py", "def twice(n: Name) -> str:\n    return n + norm(n)\n"
    )


def test_deprecation_decorators_are_left_out_and_bases_are_not_crate_dependencies() -> None:
    files = {
        "p/__init__.py": "",
        "p/old.py": (
            "import functools\nimport typing\nimport warnings\n\n"
            "if typing.TYPE_CHECKING:\n    from typing_extensions import deprecated as _deprecated\n"
            "else:\n"
            "    def _deprecated(message: str) -> object:\n"
            "        def decorator(func: object) -> object:\n"
            "            @functools.wraps(func)\n"
            "            def wrapper(*args: object, **kwargs: object) -> object:\n"
            "                warnings.warn(message, DeprecationWarning, stacklevel=2)\n"
            "                return func(*args, **kwargs)\n"
            "            return wrapper\n"
            "        return decorator\n\n"
            "def _helper(n: int) -> int:\n    return n + 1\n\n"
            "class Base:\n    def bump(self, n: int) -> int:\n        return _helper(n)\n\n"
            "class Thing(Base):\n"
            "    @_deprecated('use other')\n"
            "    def legacy(self, n: int) -> int:\n        return self.bump(n) * 2\n\n"
            "@_deprecated('gone soon')\n"
            "def shout(s: str) -> str:\n    return s.upper()\n"
        ),
    }
    index = index_of(files)
    translator = PackageTranslator(index)
    units = {u.name: u for u in split_source("p/old.py", files["p/old.py"], index)}
    assert "pub fn shout(s: String) -> String" in translator.translate_unit("p/old.py", units["shout"].source)
    thing = translator.translate_unit("p/old.py", units["Thing"].source)
    assert "pub fn legacy(&self, n: isize) -> isize" in thing
    assert "Base" not in thing
    # The subclass's Rust uses what the base's members use, not the base's own item.
    assert units["Thing"].deps == ("p/old.py::_helper",)
    with pytest.raises(Unsupported, match="type object"):  # the decorator itself stays Python
        translator.translate_unit("p/old.py", units["_deprecated"].source)


def test_type_aliases_declared_for_type_checkers_are_aliases() -> None:
    files = {
        "n/__init__.py": "",
        "n/num.py": (
            "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from typing import TypeAlias\n\n"
            "    NumberOrString: TypeAlias = float | str\n\n\n"
            "def show(v: NumberOrString) -> str:\n    return str(float(v))\n"
        ),
    }
    index = index_of(files)
    units = {u.name: u for u in split_source("n/num.py", files["n/num.py"], index)}
    assert "NumberOrString" in units  # a unit of its own: the `type` item
    translator = PackageTranslator(index)
    show = translator.translate_unit("n/num.py", units["show"].source)
    assert "pub fn show(v: portalis_py::union::Union2<f64, String>) -> String" in show
    alias = translator.translate_unit("n/num.py", units["NumberOrString"].source)
    assert "pub type NumberOrString = portalis_py::union::Union2<f64, String>;" in alias


def test_plain_assignments_under_type_checking_are_aliases_too() -> None:
    """Nothing under `if TYPE_CHECKING:` runs, so `Key = tuple[int, str]` there is an alias (no
    `TypeAlias` needed), and so is a union of the module's classes written before they are."""
    files = {
        "n/__init__.py": "",
        "n/keys.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    Key = tuple[int, str]\n    Either = Lo | Hi\n\n\n"
            "class Lo:\n    def __init__(self, n: int) -> None:\n        self.n = n\n\n\n"
            "class Hi:\n    def __init__(self, n: int) -> None:\n        self.n = n\n\n\n"
            "def first(k: Key) -> int:\n    return k[0]\n\n\n"
            "def size(e: Either) -> int:\n    return e.n if isinstance(e, Lo) else -e.n\n"
        ),
    }
    index = index_of(files)
    units = {u.name: u for u in split_source("n/keys.py", files["n/keys.py"], index)}
    assert {"Key", "Either", "first", "size"} <= set(units)
    translator = PackageTranslator(index)
    assert "pub fn first(k: (isize, String)) -> isize" in translator.translate_unit(
        "n/keys.py", units["first"].source
    )
    assert "pub fn size(e: portalis_py::union::Union2<Lo, Hi>) -> isize" in translator.translate_unit(
        "n/keys.py", units["size"].source
    )
    assert "pub type Key = (isize, String);" in translator.translate_unit("n/keys.py", units["Key"].source)


IMPORT_TIME = {
    "p/__init__.py": "",
    "p/c.py": (
        "WORDS = ['a']\nPAIRS = [('a', 'b')]\nSEEN = {'b'}\nNOISE = [hash('x')]\n\n"
        "def _add(w: str) -> None:\n    WORDS.insert(0, w)\n\n"
        "def grow(xs: list[tuple[str, str]]) -> list[tuple[str, str]]:\n"
        "    xs.append(('x', 'y'))\n    return xs\n\n"
        "_add('b')\nMORE = grow(PAIRS)\nSEEN.add('a')\nNOISE.append(1)\n\n"
        "def words() -> list[str]:\n    return WORDS + sorted(SEEN)\n"
    ),
}


def _imported_index(tmp_path: Path, files: dict[str, str]) -> PackageIndex:
    source = write_project(tmp_path / "src", files)
    return build_index(list_sources(source, ("**/*.py",), ()), 1 << 20, import_values=True)


def test_constants_that_module_code_changes_are_their_values_after_import(tmp_path: Path) -> None:
    index = _imported_index(tmp_path, IMPORT_TIME)
    values = index.modules["p.c"].import_values
    assert values["WORDS"] == "['b', 'a']"
    assert values["PAIRS"] == "[('a', 'b'), ('x', 'y')]"
    assert values["SEEN"] == "{'a', 'b'}"  # sorted: set order is not a value
    assert "NOISE" not in values  # str hashes differ between runs: a value of the run, not of the code
    translator = PackageTranslator(index)
    words = translator.translate_unit("p/c.py", "WORDS = ['a']\n")
    assert 'vec!["b".to_string(), "a".to_string()]' in words.replace("\n", "").replace("    ", "")
    assert "MORE" in translator.translate_unit("p/c.py", "MORE = grow(PAIRS)\n")
    with pytest.raises(Unsupported, match="constant NOISE may be changed by module code"):
        translator.translate_unit("p/c.py", "NOISE = [hash('x')]\n")
    # The value is part of the unit's key: a change of module code alone changes it.
    other = dict(IMPORT_TIME, **{"p/c.py": IMPORT_TIME["p/c.py"].replace("_add('b')", "_add('z')")})
    changed = _imported_index(tmp_path / "other", other)
    assert index.dependency_key("p/c.py", _nodes("WORDS = ['a']\n")) != changed.dependency_key(
        "p/c.py", _nodes("WORDS = ['a']\n")
    )


def test_without_import_values_a_changed_constant_is_still_refused(tmp_path: Path) -> None:
    source = write_project(tmp_path / "src", IMPORT_TIME)
    index = build_index(list_sources(source, ("**/*.py",), ()), 1 << 20)
    with pytest.raises(Unsupported, match="constant WORDS may be changed by module code"):
        PackageTranslator(index).translate_unit("p/c.py", "WORDS = ['a']\n")


def _nodes(source: str) -> list[ast.stmt]:
    return ast.parse(source).body


def test_compiled_patterns_are_read_back_with_their_flags(tmp_path: Path) -> None:
    files = {
        "p/__init__.py": "",
        "p/r.py": (
            "import re\n\nRULES = [re.compile('a+', re.I)]\n"
            "RULES.append(re.compile('(b)(c)?', re.M | re.S))\n\n"
            "def first(s: str) -> bool:\n    return RULES[0].search(s) is not None\n"
        ),
    }
    index = _imported_index(tmp_path, files)
    assert index.modules["p.r"].import_values["RULES"] == (
        "[re.compile('a+', re.IGNORECASE), re.compile('(b)(c)?', re.MULTILINE | re.DOTALL)]"
    )
    rust = PackageTranslator(index).translate_unit("p/r.py", "RULES = [re.compile('a+', re.I)]\n")
    assert "portalis_py::re::compile" in rust


def test_an_alias_named_like_a_rust_prelude_type_is_renamed_and_its_module_builds(tmp_path: Path) -> None:
    """`String = Union[str, bytes]` would shadow Rust's `String` in its module: the item is
    `String_`; users expand the alias and import nothing for it; an alias over a dict imports
    `HashMap` itself."""
    files = {
        "p/__init__.py": "",
        "p/t.py": "from typing import Dict, Union\nString = Union[str, bytes]\nTable = Dict[str, int]\n",
        "p/a.py": (
            "from .t import String, Table\n\n"
            "def size(s: String, t: Table) -> int:\n"
            "    if isinstance(s, str):\n        return len(s) + len(t)\n    return -len(s)\n"
        ),
    }
    crate = _translated_crate(tmp_path, write_project(tmp_path / "src", files), "p")
    rust = "\n".join(path.read_text() for path in sorted((crate / "src").rglob("*.rs")))
    assert "pub type String_ = portalis_py::union::Union2<String, Vec<u8>>;" in rust
    assert "pub type Table = HashMap<String, isize>;" in rust
    assert "::String;" not in rust
    report = (crate / "TRANSLATION_REPORT.md").read_text()
    assert not [line for line in report.splitlines() if line.startswith("| `")], report
    build = subprocess.run(
        [
            *("rustc", "--edition", "2021", "--crate-type", "rlib", "--crate-name", "p"),
            *support_crate.extern_args("rustc", "2021", tmp_path / "support"),
            *("-o", str(tmp_path / "libp.rlib"), str(crate / "src" / "lib.rs")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
