"""Device detection, explicit backend choice and cached cupy RawModule loading.

cupy is imported lazily inside functions only: the NumPy path, the unit tests and CI must work on
machines where cupy is absent or present without a GPU.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from importlib import resources
from typing import Any, Literal

logger = logging.getLogger("portalis_kernels")

BackendName = Literal["auto", "numpy", "cuda"]
ResolvedBackend = Literal["numpy", "cuda"]

#: Environment variable that sets the default backend for calls that pass ``backend=None``.
BACKEND_ENV = "PORTALIS_KERNELS_BACKEND"

#: Every CUDA source file in ``cuda/`` and the ``extern "C"`` entry points it must define.
KERNEL_ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "featurize": ("featurize_ngrams", "featurize_finalize"),
    "minhash": ("minhash_signatures",),
    "similarity": ("l2_normalize_rows", "cosine_scores", "topk_rows"),
}

#: NVRTC options used both by cupy at run time and by the compile-only check.
NVRTC_OPTIONS: tuple[str, ...] = ("--std=c++14",)

_logged: set[tuple[str, str]] = set()
_log_lock = threading.Lock()


class BackendUnavailableError(RuntimeError):
    """``backend="cuda"`` was requested but cupy or a CUDA device is missing."""


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """Whether cupy imports and sees at least one device, with the reason when it does not."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return False, f"cupy not importable ({type(exc).__name__}: {exc})"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDARuntimeError when there is no driver or device
        return False, f"no CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "no CUDA device (device count 0)"
    return True, f"{count} CUDA device(s)"


def cuda_available() -> bool:
    """True when the cupy path can run here."""
    return cuda_status()[0]


def resolve_backend(requested: BackendName | None, kernel: str) -> ResolvedBackend:
    """Turn ``auto``/``numpy``/``cuda`` (``None``: the env var, else ``auto``) into the path to run.

    The choice is logged once per process for each (requested, resolved) pair, so operators can see
    from a worker's log whether it really used the GPU.
    """
    choice = requested if requested is not None else os.environ.get(BACKEND_ENV, "auto")
    if choice not in ("auto", "numpy", "cuda"):
        raise ValueError(f"backend must be 'auto', 'numpy' or 'cuda', not {choice!r}")
    available, reason = cuda_status() if choice != "numpy" else (False, "numpy requested")
    if choice == "cuda" and not available:
        raise BackendUnavailableError(f"backend='cuda' requested for {kernel}, but {reason}")
    resolved: ResolvedBackend = "cuda" if (choice != "numpy" and available) else "numpy"
    with _log_lock:
        if (choice, resolved) not in _logged:
            _logged.add((choice, resolved))
            logger.info(
                "portalis_kernels backend: requested=%s resolved=%s (first call: %s; %s)",
                choice,
                resolved,
                kernel,
                reason,
            )
    return resolved


def kernel_source(name: str) -> str:
    """CUDA C source of ``cuda/<name>.cu`` as shipped in the package."""
    if name not in KERNEL_ENTRY_POINTS:
        raise KeyError(f"unknown kernel module {name!r}")
    return (resources.files(__package__) / "cuda" / f"{name}.cu").read_text(encoding="utf-8")


@functools.cache
def load_module(name: str) -> Any:
    """Compile ``cuda/<name>.cu`` once per process with cupy (NVRTC, cached on disk by cupy)."""
    import cupy

    return cupy.RawModule(code=kernel_source(name), options=NVRTC_OPTIONS)


def get_kernel(module: str, kernel: str) -> Any:
    """A ``cupy.RawKernel`` for an entry point of one of our modules."""
    if kernel not in KERNEL_ENTRY_POINTS[module]:
        raise KeyError(f"{kernel!r} is not an entry point of {module}.cu")
    return load_module(module).get_function(kernel)
