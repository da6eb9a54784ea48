"""Backend choice: explicit, logged once, CPU fallback when cupy or a device is missing."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys

import numpy as np
import pytest

from portalis_kernels.backend import (
    BACKEND_ENV,
    KERNEL_ENTRY_POINTS,
    BackendUnavailableError,
    kernel_source,
    resolve_backend,
)
from portalis_kernels.featurize import FeatureConfig, featurize, featurize_reference
from portalis_kernels.minhash import MinHashConfig, minhash_reference, minhash_signatures
from portalis_kernels.packing import pack_units
from portalis_kernels.similarity import cosine_topk, cosine_topk_reference

pytestmark = pytest.mark.unit
backend_mod = importlib.import_module("portalis_kernels.backend")


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend cupy sees no device, whatever this machine has, and forget what was logged."""
    monkeypatch.setattr(backend_mod, "cuda_status", lambda: (False, "no CUDA device (test)"))
    monkeypatch.setattr(backend_mod, "_logged", set())
    monkeypatch.delenv(BACKEND_ENV, raising=False)


@pytest.mark.usefixtures("no_gpu")
def test_auto_falls_back_to_numpy() -> None:
    assert resolve_backend("auto", "featurize") == "numpy"
    assert resolve_backend(None, "featurize") == "numpy"
    assert resolve_backend("numpy", "featurize") == "numpy"


@pytest.mark.usefixtures("no_gpu")
def test_cuda_without_device_is_an_error() -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        resolve_backend("cuda", "minhash")
    with pytest.raises(BackendUnavailableError):
        featurize([b"x"], backend="cuda")


@pytest.mark.usefixtures("no_gpu")
def test_invalid_backend_and_env_default(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="backend must be"):
        resolve_backend("tpu", "featurize")  # type: ignore[arg-type]
    monkeypatch.setenv(BACKEND_ENV, "cuda")
    with pytest.raises(BackendUnavailableError):
        resolve_backend(None, "featurize")
    monkeypatch.setenv(BACKEND_ENV, "numpy")
    assert resolve_backend(None, "featurize") == "numpy"


@pytest.mark.usefixtures("no_gpu")
def test_choice_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="portalis_kernels")
    for _ in range(3):
        resolve_backend("auto", "featurize")
        resolve_backend("auto", "minhash")
    records = [r for r in caplog.records if "resolved=numpy" in r.getMessage()]
    assert len(records) == 1
    assert "requested=auto" in records[0].getMessage()


@pytest.mark.usefixtures("no_gpu")
def test_public_functions_take_the_numpy_path_on_auto() -> None:
    units = [b"", b"ab", b"fn main() {}", b"x" * 5000]
    packed = pack_units(units)
    np.testing.assert_array_equal(
        featurize(units, backend="auto"), featurize_reference(packed, FeatureConfig())
    )
    np.testing.assert_array_equal(
        minhash_signatures(units, backend="auto"), minhash_reference(packed, MinHashConfig())
    )
    rng = np.random.default_rng(1)
    q = rng.normal(size=(3, 5)).astype(np.float32)
    m = rng.normal(size=(4, 5)).astype(np.float32)
    got, want = cosine_topk(q, m, 6, backend="auto"), cosine_topk_reference(q, m, 6)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_importing_the_package_does_not_import_cupy() -> None:
    code = (
        "import sys, portalis_kernels.neardup, portalis_kernels.nvrtc, portalis_kernels.backend\n"
        "assert 'cupy' not in sys.modules, 'cupy imported at module import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_kernel_sources_ship_with_the_package() -> None:
    for module, entries in KERNEL_ENTRY_POINTS.items():
        source = kernel_source(module)
        for entry in entries:
            assert f'extern "C" __global__ void {entry}(' in source
    with pytest.raises(KeyError):
        kernel_source("nope")
