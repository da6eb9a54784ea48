"""Compile-only NVRTC checks: turn our CUDA C into PTX on a machine without a GPU.

CI has no GPU, but NVRTC is a pure compiler library (``cuda-bindings`` + the ``nvidia-cuda-nvrtc``
wheel), so every kernel is at least proven to compile for the target architecture on every run.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from .backend import NVRTC_OPTIONS


class NvrtcUnavailableError(RuntimeError):
    """``cuda.bindings.nvrtc`` (or the NVRTC library it loads) is not installed."""


class NvrtcCompileError(RuntimeError):
    """NVRTC rejected the source; the message carries the compile log."""


def _nvrtc() -> Any:
    try:
        nvrtc = importlib.import_module("cuda.bindings.nvrtc")
    except Exception as exc:
        raise NvrtcUnavailableError(
            "cuda.bindings.nvrtc is not importable; install the 'cuda-bindings' and "
            f"'nvidia-cuda-nvrtc' wheels ({type(exc).__name__}: {exc})"
        ) from exc
    return nvrtc


def _check(result: Any, what: str) -> None:
    if int(result) != 0:
        raise NvrtcCompileError(f"{what} failed: {result!r}")


def nvrtc_version() -> tuple[int, int]:
    """(major, minor) of the NVRTC library that will compile."""
    nvrtc = _nvrtc()
    try:
        err, major, minor = nvrtc.nvrtcVersion()
    except Exception as exc:  # the library itself could not be loaded
        raise NvrtcUnavailableError(f"libnvrtc could not be loaded: {exc}") from exc
    _check(err, "nvrtcVersion")
    return int(major), int(minor)


def compile_to_ptx(
    source: str,
    name: str = "kernel.cu",
    arch: str = "compute_90",
    options: Sequence[str] = NVRTC_OPTIONS,
) -> str:
    """Compile CUDA C ``source`` to PTX for virtual architecture ``arch``; raise with the log on error."""
    nvrtc = _nvrtc()
    nvrtc_version()
    err, prog = nvrtc.nvrtcCreateProgram(source.encode("utf-8"), name.encode("utf-8"), 0, [], [])
    _check(err, "nvrtcCreateProgram")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), *(o.encode() for o in options)]
        (compile_err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        err, log_size = nvrtc.nvrtcGetProgramLogSize(prog)
        _check(err, "nvrtcGetProgramLogSize")
        log = b" " * log_size
        (err,) = nvrtc.nvrtcGetProgramLog(prog, log)
        _check(err, "nvrtcGetProgramLog")
        if int(compile_err) != 0:
            text = log.decode("utf-8", "replace").rstrip("\x00 \n")
            raise NvrtcCompileError(f"{name}: {compile_err!r}\n{text}")
        err, ptx_size = nvrtc.nvrtcGetPTXSize(prog)
        _check(err, "nvrtcGetPTXSize")
        ptx = b" " * ptx_size
        (err,) = nvrtc.nvrtcGetPTX(prog, ptx)
        _check(err, "nvrtcGetPTX")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return str(ptx.decode("utf-8")).rstrip("\x00")
