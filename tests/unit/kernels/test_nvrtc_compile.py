"""Every CUDA source compiles to PTX with NVRTC and defines its entry points; no GPU needed.

NVRTC runs in a child process: loading the CUDA libraries into the test process changed how torch
(loaded by later tests) unpickles checkpoints, so the compile checks are kept out of its address space.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from portalis_kernels.backend import KERNEL_ENTRY_POINTS, kernel_source

pytestmark = pytest.mark.unit

_CHILD = """
import json, sys
from portalis_kernels.nvrtc import NvrtcCompileError, compile_to_ptx, nvrtc_version
req = json.load(sys.stdin)
if req["op"] == "version":
    print(json.dumps(list(nvrtc_version())))
else:
    try:
        print(json.dumps({"ptx": compile_to_ptx(req["source"], req["name"], arch=req["arch"])}))
    except NvrtcCompileError as exc:
        print(json.dumps({"error": str(exc)}))
"""


class NvrtcCompileError(AssertionError):
    pass


def _child(request: dict[str, str]) -> object:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def nvrtc_version() -> tuple[int, int]:
    major, minor = _child({"op": "version"})  # type: ignore[misc]
    return int(major), int(minor)


def compile_to_ptx(source: str, name: str = "kernel.cu", arch: str = "compute_90") -> str:
    out = _child({"op": "compile", "source": source, "name": name, "arch": arch})
    assert isinstance(out, dict)
    if "error" in out:
        raise NvrtcCompileError(out["error"])
    return str(out["ptx"])


def test_nvrtc_is_installed() -> None:
    major, _minor = nvrtc_version()
    assert major >= 12


@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize("module", sorted(KERNEL_ENTRY_POINTS))
def test_kernel_compiles_to_ptx(module: str, arch: str) -> None:
    ptx = compile_to_ptx(kernel_source(module), f"{module}.cu", arch=arch)
    assert f".target sm_{arch.removeprefix('compute_')}" in ptx
    for entry in KERNEL_ENTRY_POINTS[module]:
        assert f".entry {entry}(" in ptx, f"{entry} missing from {module}.cu PTX"


def test_compile_error_carries_the_log() -> None:
    with pytest.raises(NvrtcCompileError, match="undefined_identifier"):
        compile_to_ptx('extern "C" __global__ void k() { undefined_identifier = 1; }', "broken.cu")
