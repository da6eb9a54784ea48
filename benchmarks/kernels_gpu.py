"""GPU timings of the portalis_kernels CUDA kernels vs NumPy and vs the same maths from cupy built-ins.

Run on a machine with an NVIDIA GPU and cupy:  python benchmarks/kernels_gpu.py
Writes benchmarks/results/kernels_gpu.json as a list of {metric, value, unit, compared_with}.
Without cupy or a device it prints why and exits with status 2, writing nothing.
--smoke times every kernel on 200 units with 3 repeats and writes only to --out (tests/gpu runs it).

GPU times are the median CUDA-event time of cupyx.profiler.benchmark on device-resident inputs
(no host copies); NumPy times are the best wall time on the same machine's CPU. Achieved bandwidth
counts the compulsory traffic only (inputs read once + outputs written once) against the peak
2 x memory clock x bus width reported by the device.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernels_cpu import best_of, synthetic_corpus
from reporting import add_arguments, record, write

from portalis_kernels.backend import cuda_status
from portalis_kernels.featurize import CHUNK_LEN as FEAT_CHUNK
from portalis_kernels.featurize import FeatureConfig, featurize_device, featurize_reference
from portalis_kernels.hashing import FNV_OFFSET_BASIS, FNV_PRIME
from portalis_kernels.minhash import CHUNK_LEN as MH_CHUNK
from portalis_kernels.minhash import (
    MinHashConfig,
    minhash_device,
    minhash_reference,
    minhash_seeds,
    shingle_counts,
)
from portalis_kernels.packing import PackedUnits, pack_units, to_device
from portalis_kernels.similarity import cosine_topk_cuda, cosine_topk_reference

NAME = "kernels_gpu"
SMOKE_UNITS, SMOKE_REPEATS = 200, 3


def peak_bandwidth_gbs(cp: Any) -> tuple[float | None, str]:
    """Theoretical DRAM bandwidth from the device's memory clock (kHz) and bus width (bits)."""
    dev = cp.cuda.Device().id
    props = cp.cuda.runtime.getDeviceProperties(dev)
    name = props.get("name", b"?")
    name = name.decode() if isinstance(name, bytes) else str(name)
    clock_khz = props.get("memoryClockRate")
    bus_bits = props.get("memoryBusWidth")
    try:  # CUDA 13 dropped memoryClockRate from cudaDeviceProp; the attribute query still has it.
        if not clock_khz:
            clock_khz = cp.cuda.runtime.deviceGetAttribute(36, dev)  # cudaDevAttrMemoryClockRate
        if not bus_bits:
            bus_bits = cp.cuda.runtime.deviceGetAttribute(37, dev)  # cudaDevAttrGlobalMemoryBusWidth
    except Exception as exc:
        print(f"warning: could not query memory clock/bus width: {exc}", file=sys.stderr)
    if not clock_khz or not bus_bits:
        return None, name
    return 2.0 * float(clock_khz) * 1e3 * float(bus_bits) / 8.0 / 1e9, name


def gpu_time(cp: Any, fn: Callable[[], Any], repeats: int) -> float:
    """Median GPU seconds per call (CUDA events), after warm-up (includes compile on first call)."""
    from cupyx.profiler import benchmark

    result = benchmark(fn, n_repeat=repeats, n_warmup=3)
    return float(np.median(result.gpu_times[0]))


# --- the same computations composed from cupy built-ins -------------------------------------------


def _fnv_step(cp: Any, state: Any, byte: Any) -> Any:
    return (state ^ byte.astype(cp.uint32)) * cp.uint32(FNV_PRIME)


def _fmix32(cp: Any, h: Any) -> Any:
    h = h ^ (h >> cp.uint32(16))
    h = h * cp.uint32(0x85EBCA6B)
    h = h ^ (h >> cp.uint32(13))
    h = h * cp.uint32(0xC2B2AE35)
    return h ^ (h >> cp.uint32(16))


def featurize_builtin(cp: Any, data: Any, offsets: Any, num_units: int, config: FeatureConfig) -> Any:
    """Vectorised cupy version of the NumPy oracle (searchsorted + bincount)."""
    lo, hi = config.ngram_range
    dim = config.dim
    pos = cp.arange(data.size, dtype=cp.int64)
    unit = cp.searchsorted(offsets[1:], pos, side="right")
    end = offsets[1:][unit]
    state = cp.full(pos.size, FNV_OFFSET_BASIS, dtype=cp.uint32)
    counts = cp.zeros(num_units * dim, dtype=cp.float64)
    for n in range(1, hi + 1):
        fits = pos + (n - 1) < end
        pos, unit, end, state = pos[fits], unit[fits], end[fits], state[fits]
        state = _fnv_step(cp, state, data[pos + (n - 1)])
        if n >= lo:
            flat = unit * dim + (state % cp.uint32(dim)).astype(cp.int64)
            counts += cp.bincount(flat, minlength=num_units * dim)
    x = counts.reshape(num_units, dim)
    if config.normalize:
        norm = cp.sqrt((x * x).sum(axis=1, keepdims=True))
        x = cp.where(norm > 0, x / cp.where(norm > 0, norm, 1), 0)
    return x.astype(cp.float32)


def minhash_builtin(cp: Any, packed: PackedUnits, data: Any, config: MinHashConfig) -> Any:
    """cupy version: shingle hashes elementwise, then row blocks of fmix32 and cupyx.scatter_min."""
    import cupyx

    s = config.shingle
    lengths = packed.lengths
    n_sh = shingle_counts(lengths, s)
    unit_h = np.repeat(np.arange(lengths.size), n_sh)
    first = np.cumsum(n_sh) - n_sh
    start = cp.asarray(packed.offsets[:-1][unit_h] + (np.arange(unit_h.size) - first[unit_h]))
    width = cp.asarray(np.minimum(lengths, s)[unit_h])
    unit = cp.asarray(unit_h)
    state = cp.full(unit.size, FNV_OFFSET_BASIS, dtype=cp.uint32)
    for b in range(s):
        active = width > b
        step = _fnv_step(cp, state, data[cp.minimum(start + b, data.size - 1)])
        state = cp.where(active, step, state)
    seeds = cp.asarray(minhash_seeds(config.num_perm, config.seed))
    out = cp.full((packed.num_units, config.num_perm), 0xFFFFFFFF, dtype=cp.uint32)
    rows = 1 << 16
    for a in range(0, state.size, rows):
        perm = _fmix32(cp, state[a : a + rows, None] ^ seeds[None, :])
        cupyx.scatter_min(out, unit[a : a + rows], perm)
    return out


def cosine_topk_builtin(cp: Any, queries: Any, memory: Any, k: int) -> Any:
    """cuBLAS matmul on normalised rows + argsort (ties not guaranteed to prefer the lower index)."""
    qn = queries / cp.maximum(cp.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
    mn = memory / cp.maximum(cp.linalg.norm(memory, axis=1, keepdims=True), 1e-30)
    scores = qn @ mn.T
    idx = cp.argsort(-scores, axis=1)[:, :k]
    return idx, cp.take_along_axis(scores, idx, axis=1)


# --- the benchmark -------------------------------------------------------------------------------


def run(cp: Any, num_units: int, repeats: int) -> list[dict[str, Any]]:
    peak, name = peak_bandwidth_gbs(cp)
    units = synthetic_corpus(num_units)
    packed = pack_units(units)
    nbytes = packed.data.size + packed.offsets.nbytes
    out: list[dict[str, Any]] = [record("device_peak_bandwidth", peak or 0.0, "GB/s", name)]

    def add(kernel: str, t_gpu: float, t_np: float, t_builtin: float, traffic: int, items: int) -> None:
        out.extend(
            [
                record(f"{kernel}_cuda_units_per_s", items / t_gpu, "units/s", name),
                record(f"{kernel}_speedup_vs_numpy", t_np / t_gpu, "x", "NumPy reference on the host CPU"),
                record(f"{kernel}_speedup_vs_cupy_builtins", t_builtin / t_gpu, "x", "cupy built-ins"),
                record(f"{kernel}_cuda_bandwidth", traffic / t_gpu / 1e9, "GB/s", "compulsory traffic"),
            ]
        )
        if peak:
            share = 100.0 * traffic / t_gpu / 1e9 / peak
            out.append(record(f"{kernel}_bandwidth_share_of_peak", share, "%", f"{peak:.0f} GB/s peak"))

    fcfg = FeatureConfig()
    fb = to_device(packed, packed.lengths, FEAT_CHUNK)
    t_gpu = gpu_time(cp, lambda: featurize_device(fb, fcfg), repeats)
    t_np = best_of(lambda: featurize_reference(packed, fcfg), 2)
    t_bi = gpu_time(cp, lambda: featurize_builtin(cp, fb.data, fb.offsets, fb.num_units, fcfg), repeats)
    add("featurize", t_gpu, t_np, t_bi, nbytes + num_units * fcfg.dim * 4, num_units)

    mcfg = MinHashConfig()
    mb = to_device(packed, shingle_counts(packed.lengths, mcfg.shingle), MH_CHUNK)
    t_gpu = gpu_time(cp, lambda: minhash_device(mb, mcfg), repeats)
    t_np = best_of(lambda: minhash_reference(packed, mcfg), 1)
    t_bi = gpu_time(cp, lambda: minhash_builtin(cp, packed, mb.data, mcfg), max(3, repeats // 4))
    add("minhash", t_gpu, t_np, t_bi, nbytes + num_units * mcfg.num_perm * 4, num_units)

    memory = featurize_device(fb, fcfg)
    queries = memory[:1024].copy()
    k = 10
    t_gpu = gpu_time(cp, lambda: cosine_topk_cuda(queries, memory, k), repeats)
    host_q, host_m = cp.asnumpy(queries), cp.asnumpy(memory)
    t_np = best_of(lambda: cosine_topk_reference(host_q, host_m, k), 1)
    t_bi = gpu_time(cp, lambda: cosine_topk_builtin(cp, queries, memory, k), repeats)
    traffic = (queries.size + memory.size) * 4 + queries.shape[0] * k * 12
    add("cosine_topk", t_gpu, t_np, t_bi, traffic, int(queries.shape[0]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=20)
    add_arguments(parser, NAME)
    args = parser.parse_args()
    if args.smoke:
        args.units, args.repeats = SMOKE_UNITS, SMOKE_REPEATS
    ok, reason = cuda_status()
    if not ok:
        print(
            f"kernels_gpu: no usable GPU here ({reason}); nothing measured, nothing written.", file=sys.stderr
        )
        return 2
    import cupy as cp

    t0 = time.perf_counter()
    results = run(cp, args.units, args.repeats)
    written = write(NAME, results, args.out, args.smoke)
    for r in results:
        print(f"{r['metric']:45s} {r['value']:>14,.2f} {r['unit']:8s} ({r['compared_with']})")
    print(f"# {time.perf_counter() - t0:.1f} s, {args.units} units -> {written or 'not written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
