"""The `re` module: translated functions against CPython, and the support crate's engine against
CPython's `re` on many patterns (search, findall, sub, split, fullmatch; groups and positions)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from rules_harness import SUPPORT_CACHE, Case, assert_case, run_cases

from portalis_worker import support_crate
from portalis_worker.rules import Unsupported, translate_module
from portalis_worker.rules.expressions import rust_str_literal

pytestmark = pytest.mark.unit

R = "import re\nfrom typing import Optional\n\n"

CASES = {
    "ascii_flag": Case(
        R + 'NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", re.IGNORECASE | re.ASCII)\n\n'
        "def f(s: str) -> list[bool]:\n"
        '    return [NAME.match(s) is not None, re.search(r"(?a)\\w+\\s\\d", s) is not None,'
        ' re.search(r"\\w\\s\\d", s) is not None]\n',
        "f",
        [("Pkg.Name-1",), ("café",), ("é\u00a05",), ("x 7",), ("K",)],
    ),
    "compiled_pattern_constant_sub": Case(
        R + 'PAIR = re.compile(r"(\\w+)-(\\w+)", re.IGNORECASE)\n\n'
        'def f(s: str) -> str:\n    return PAIR.sub(r"\\2~\\g<1>", s)\n',
        "f",
        [("ab-cd ef-gh",), ("none",), ("",)],
    ),
    "search_group_and_none": Case(
        R + "def f(s: str) -> str:\n"
        '    m = re.search(r"(?P<n>\\d+)\\s*(?P<unit>[kmg]b)", s, flags=re.I)\n'
        '    if m is None:\n        return "-"\n'
        '    return m.group("unit") + ":" + m.group(1) + "@" + str(m.start()) + "," + str(m.end(2))\n',
        "f",
        [("size 12 KB",), ("no size",), ("é 5mb",)],
    ),
    "match_is_anchored_fullmatch_whole": Case(
        R + "def f(s: str) -> int:\n"
        "    n = 0\n"
        '    if re.match(r"[a-z]+", s):\n        n += 1\n'
        '    if re.fullmatch(r"[a-z]+\\d*", s):\n        n += 10\n'
        "    return n\n",
        "f",
        [("abc",), ("abc12",), ("1abc",), ("ab c",)],
    ),
    "findall_split_count": Case(
        R + "def f(s: str) -> list[str]:\n"
        '    words = re.findall(r"[A-Za-z]+", s)\n'
        '    return words + re.split(r"[,;]\\s*", s, maxsplit=2) + [re.sub(r"\\s+", " ", s, count=1)]\n',
        "f",
        [("a, b;  c,d",), ("",)],
    ),
    "lookaround_and_backreference": Case(
        R + "def f(s: str) -> list[str]:\n"
        '    return re.findall(r"(?<=\\$)\\d+(?!\\d|%)", s) + re.findall(r"\\b(\\w)\\w*\\1\\b", s)\n',
        "f",
        [("$100 $25% pop eve $7",), ("",)],
    ),
    "sub_with_a_function": Case(
        R + "def _cap(m: re.Match[str]) -> str:\n    return m.group(1).upper() + m.group(2)\n\n"
        "def f(s: str) -> str:\n"
        '    t = re.sub(r"(\\w)(\\w*)", lambda m: m.group(2) + m.group(1), s, count=2)\n'
        '    return t + "|" + re.sub(r"(\\w)(\\w*)", _cap, s)\n',
        "f",
        [("hello big world",), ("",)],
    ),
    "escape_and_multiline": Case(
        R + "def f(s: str) -> list[str]:\n"
        '    return re.findall("^" + re.escape("a.b") + "$", s, re.MULTILINE)\n',
        "f",
        [("a.b\naxb\na.b",)],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    return run_cases(CASES)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_re_case(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    assert_case(results, cid)


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        (
            R + 'def f(s: str) -> bool:\n    return re.search(r"(ab", s) is not None\n',
            "invalid regular expression",
        ),
        (
            R + 'def f(s: str) -> bool:\n    return re.search(r"(?i:ab)", s) is not None\n',
            "syntax outside the engine",
        ),
        (R + 'def f(s: str) -> list[str]:\n    return re.findall(r"(a)(b)", s)\n', "several groups"),
        (R + 'def f(s: str) -> str:\n    return re.sub(r"a", lambda m, n: "b", s)\n', "lambda with other"),
    ],
)
def test_refused_regex_uses_say_why(source: str, construct: str) -> None:
    with pytest.raises(Unsupported, match=construct):
        translate_module(source)


# The engine itself against CPython: (pattern, flags, text).
ENGINE = [
    (r"a|ab|abc", 0, "xabcx"),
    (r"(a|ab)(c|bcd)(d*)", 0, "abcd"),
    (r"(\d+)-(\d+)?", 0, "10- 3-4"),
    (r"x*", 0, "axxb"),
    (r"\bfoo\b", 0, "foo foobar barfoo foo."),
    (r"[^\W\d]+", 0, "ab12cd_e"),
    (r"(?i)straße", 0, "STRASSE Straße"),
    (r"colou?r", 0, "color colour colouur"),
    (r"<(\w+)>.*?</\1>", 0, "<a>x</b></a><b>y</b>"),
    (r"(?<=[a-z])(?=[A-Z])", 0, "camelCaseString"),
    (r"^\s*#.*$", re.MULTILINE, "code\n  # note\n#x"),
    (r"\d{2,}?", 0, "12345"),
    (r"(a+)+b", 0, "aaab aab"),
    (r".", re.DOTALL, "a\nb"),
    (r"[\u00e0-\u00ff]+", 0, "abc àéî xyz"),
    (r"(?P<y>\d{4})-(?P<m>\d\d)", 0, "on 2026-12-06 and 1999-01-02"),
    (r"\\", 0, "a\\b"),
    (r"[]a]+", 0, "]a]b"),
    (r"a{3}|b{1,2}", 0, "aaaa bbb"),
    (r"(?x) a \s b  # spaced", 0, "a b"),
    (r"$", 0, "ab\n"),
    (r"", 0, "ab"),
]


def _python(pattern: str, flags: int, text: str) -> list[object]:
    p = re.compile(pattern, flags)
    spans = [[m.span(g) for g in range(p.groups + 1)] for m in p.finditer(text)]
    full = p.fullmatch(text)
    return [
        spans,
        p.sub("<\\g<0>>", text),
        p.split(text) if p.groups == 0 else None,
        None if full is None else list(full.span()),
    ]


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is required")
def test_engine_agrees_with_cpython() -> None:
    rows = []
    for i, (pattern, flags, text) in enumerate(ENGINE):
        rows.append(
            f"    {{ let p = portalis_py::re::compile({rust_str_literal(pattern)}, {int(flags)}); "
            f"let t = {rust_str_literal(text)}; report({i}, &p, t); }}"
        )
    program = (
        "fn report(i: usize, p: &portalis_py::re::Pattern, t: &str) {\n"
        '    let spans: Vec<String> = p.finditer(t).iter().map(|m| format!("[{}]", (0..=p.groups as isize)'
        '.map(|g| { let (s, e) = m.span(g); format!("[{}, {}]", s, e) }).collect::<Vec<_>>().join(", ")))'
        ".collect();\n"
        '    let split = if p.groups == 0 { format!("[{}]", p.split(t, 0).iter().map(|s| format!("{:?}", s))'
        '.collect::<Vec<_>>().join(", ")) } else { "null".to_string() };\n'
        "    let full = match p.fullmatch(t) {\n"
        '        Some(m) => { let (s, e) = m.span(0); format!("[{}, {}]", s, e) }\n'
        '        None => "null".to_string(),\n    };\n'
        '    let sub = p.sub("<\\\\g<0>>", t, 0);\n'
        '    println!("{}\\t[[{}], {:?}, {}, {}]", i, spans.join(", "), sub, split, full);\n'
        "}\n\nfn main() {\n" + "\n".join(rows) + "\n}\n"
    )
    with tempfile.TemporaryDirectory(prefix="re-engine-") as tmp:
        src, binary = Path(tmp) / "probe.rs", Path(tmp) / "probe"
        src.write_text(program)
        extern = support_crate.extern_args("rustc", "2021", SUPPORT_CACHE)
        build = subprocess.run(
            ["rustc", "--edition", "2021", *extern, "-o", str(binary), str(src)],
            capture_output=True,
            text=True,
        )
        assert build.returncode == 0, build.stderr
        out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    got = {int(line.split("\t")[0]): json.loads(line.split("\t")[1]) for line in out.splitlines()}
    for i, (pattern, flags, text) in enumerate(ENGINE):
        expected = json.loads(json.dumps(_python(pattern, flags, text)))
        assert got[i] == expected, (pattern, text)


def test_support_crate_own_tests_pass(tmp_path: Path) -> None:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is required")
    done = subprocess.run(
        ["cargo", "test", "--offline", "--quiet"],
        cwd=support_crate.SOURCE,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "CARGO_TARGET_DIR": str(tmp_path / "target")},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test result: ok" in done.stdout
