"""Every CUDA source compiles to PTX with NVRTC and defines its entry points; no GPU needed."""

from __future__ import annotations

import pytest

from portalis_kernels.backend import KERNEL_ENTRY_POINTS, kernel_source
from portalis_kernels.nvrtc import NvrtcCompileError, compile_to_ptx, nvrtc_version

pytestmark = pytest.mark.unit


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
