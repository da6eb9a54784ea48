"""The smoke mode of benchmarks/kernels_gpu.py: every CUDA kernel timed on 200 units against NumPy and
cupy built-ins, in seconds (tests/gpu/run_all.sh runs it with the rest of tests/gpu)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark_smoke import run_smoke

pytestmark = pytest.mark.gpu


def test_kernels_gpu_smoke_times_every_kernel(tmp_path: Path) -> None:
    run = run_smoke("kernels_gpu", tmp_path / "kernels_gpu.json", timeout=120)
    v = run.values
    for kernel in ("featurize", "minhash", "cosine_topk"):
        assert v[f"{kernel}_cuda_units_per_s"] > 0, kernel
        assert v[f"{kernel}_speedup_vs_numpy"] > 0, kernel
        assert v[f"{kernel}_speedup_vs_cupy_builtins"] > 0, kernel
        assert v[f"{kernel}_cuda_bandwidth"] > 0, kernel
    assert "200 units" in run.output
