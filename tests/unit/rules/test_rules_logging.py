"""`logging` as a library uses it, compiled and run against CPython: the same results, and the same
stderr (an unconfigured program writes WARNING and above, as the bare message)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from rules_harness import SUPPORT_CACHE, Case, assert_case, run_cases

from portalis_worker import support_crate
from portalis_worker.rules import Unsupported, translate_module

pytestmark = pytest.mark.unit

SOURCE = (
    "import logging\n\n"
    "logger = logging.getLogger(__name__)\n\n"
    "def clamp(n: int, hi: int) -> int:\n"
    "    if n > hi:\n"
    "        logger.warning('value %s above %d', n, hi)\n"
    "        return hi\n"
    "    logger.debug('ok %s', n)\n"
    "    if logger.isEnabledFor(logging.INFO):\n"
    "        logger.info('fine')\n"
    "    if n < 0:\n"
    "        logger.error('negative: ' + str(n))\n"
    "    return n\n"
)
INPUTS = [(5, 3), (2, 3), (-1, 3)]
CASES = {"levels_and_formatting": Case(SOURCE, "clamp", [*INPUTS])}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    return run_cases(CASES)


def test_results_are_unchanged_by_logging(results: dict[str, tuple[list[str], list[str] | str]]) -> None:
    assert_case(results, "levels_and_formatting")


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is not on PATH")
def test_stderr_is_what_an_unconfigured_python_writes() -> None:
    calls = "".join(f"clamp({a}, {b})\n" for a, b in INPUTS)
    python = subprocess.run(
        [sys.executable, "-c", SOURCE + calls], capture_output=True, text=True, timeout=60, check=True
    )
    rust = translate_module(SOURCE)
    main = "fn main() {\n" + "".join(f"    clamp({a}, {b});\n" for a, b in INPUTS) + "}\n"
    rustc = shutil.which("rustc")
    assert rustc is not None
    with tempfile.TemporaryDirectory() as tmp:
        src, binary = Path(tmp) / "m.rs", Path(tmp) / "m"
        src.write_text("#![allow(dead_code, non_upper_case_globals)]\n" + rust + main)
        extra = support_crate.extern_args(rustc, "2021", SUPPORT_CACHE)
        subprocess.run([rustc, "--edition", "2021", *extra, "-o", str(binary), str(src)], check=True)
        ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60, check=True)
    assert python.stderr == "value 5 above 3\nnegative: -1\n"
    assert ran.stderr == python.stderr


@pytest.mark.parametrize(
    ("call", "construct"),
    [
        ("logger.exception('x')", "logger.exception"),
        ("logger.warning('x', exc_info=True)", "logger.warning with these arguments"),
        ("logger.addHandler(None)", "logger.addHandler"),
        ("logging.basicConfig()", "logging.basicConfig"),
    ],
)
def test_configuration_and_tracebacks_are_refused(call: str, construct: str) -> None:
    source = "import logging\n\nlogger = logging.getLogger('p')\n\ndef f() -> None:\n    " + call + "\n"
    with pytest.raises(Unsupported, match=construct):
        translate_module(source)
