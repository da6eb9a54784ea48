"""Batched byte n-gram feature hashing: a cheap fixed-width embedding of source units.

For every start position of a unit and every n in ``ngram_range`` (inclusive) whose n-gram fits in
the unit, ``h = fnv1a32(ngram)`` adds ``+1`` (or ``-1`` when ``signed`` and bit 31 of ``h`` is set)
to bucket ``h % dim``. Rows are float32 and, when ``normalize``, divided by their L2 norm (computed
in float64; all-zero rows, e.g. empty units, stay zero). Used for translation-memory retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .backend import BackendName, get_kernel, resolve_backend
from .hashing import FNV_OFFSET_BASIS, fnv1a32_step
from .packing import DeviceBatch, PackedUnits, UnitLike, pack_units, to_device, unit_batches

#: Start positions per GPU block; long units are split into this many positions per block.
CHUNK_LEN = 2048
THREADS = 256
_SHARED_LIMIT_BYTES = 48 * 1024
_HOST_BATCH_BYTES = 4 << 20


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the hashed n-gram embedding; part of a translation memory's identity."""

    dim: int = 1024
    ngram_range: tuple[int, int] = (1, 3)
    signed: bool = False
    normalize: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi <= 64:
            raise ValueError(f"ngram_range must satisfy 1 <= lo <= hi <= 64, got {self.ngram_range}")
        if not 1 <= self.dim <= 1 << 24:
            raise ValueError(f"dim must be in [1, 2**24], got {self.dim}")


def _rows_to_float32(counts: NDArray[Any], normalize: bool) -> NDArray[np.float32]:
    """Exact counts to float32 rows; L2 norm in float64 so both paths round once, identically."""
    if not normalize:
        return counts.astype(np.float32)
    x = counts.astype(np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    safe = np.where(norm > 0.0, norm, 1.0)
    return np.where(norm > 0.0, x / safe, 0.0).astype(np.float32)


def featurize_reference(packed: PackedUnits, config: FeatureConfig = FeatureConfig()) -> NDArray[np.float32]:
    """NumPy oracle: vectorised over all byte positions of a host batch of units at once."""
    lo, hi = config.ngram_range
    dim = config.dim
    out = np.zeros((packed.num_units, dim), dtype=np.float32)
    for u0, u1 in unit_batches(packed.offsets, _HOST_BATCH_BYTES):
        base, end = int(packed.offsets[u0]), int(packed.offsets[u1])
        data = packed.data[base:end]
        lengths = np.diff(packed.offsets[u0 : u1 + 1])
        nb = u1 - u0
        unit = np.repeat(np.arange(nb, dtype=np.int64), lengths)
        pos = np.arange(end - base, dtype=np.int64)
        unit_end = (packed.offsets[1:][u0:u1] - base)[unit]
        state = np.full(pos.size, FNV_OFFSET_BASIS, dtype=np.uint32)
        counts = np.zeros(nb * dim, dtype=np.float64 if config.signed else np.int64)
        for n in range(1, hi + 1):
            fits = pos + (n - 1) < unit_end
            if not fits.all():
                pos, unit, unit_end, state = pos[fits], unit[fits], unit_end[fits], state[fits]
            if pos.size == 0:
                break
            state = fnv1a32_step(state, data[pos + (n - 1)])
            if n < lo:
                continue
            flat = unit * dim + (state % np.uint32(dim)).astype(np.int64)
            if config.signed:
                weights = np.where(state >> np.uint32(31), -1.0, 1.0)
                counts += np.bincount(flat, weights=weights, minlength=nb * dim)
            else:
                counts += np.bincount(flat, minlength=nb * dim)
        out[u0:u1] = _rows_to_float32(counts.reshape(nb, dim), config.normalize)
    return out


def featurize_cuda(packed: PackedUnits, config: FeatureConfig = FeatureConfig()) -> Any:
    """GPU path: uploads the batch and returns a cupy float32 array of shape (B, dim)."""
    return featurize_device(to_device(packed, packed.lengths, CHUNK_LEN), config)


def featurize_device(batch: DeviceBatch, config: FeatureConfig = FeatureConfig()) -> Any:
    """Kernels only, on a batch already on the device (built with ``CHUNK_LEN`` byte chunks)."""
    import cupy

    lo, hi = config.ngram_range
    dim = config.dim
    counts = cupy.zeros((batch.num_units, dim), dtype=cupy.int32)
    if batch.num_chunks:
        use_shared = dim * 4 <= _SHARED_LIMIT_BYTES
        get_kernel("featurize", "featurize_ngrams")(
            (batch.num_chunks,),
            (THREADS,),
            (
                batch.data,
                batch.offsets,
                batch.chunk_unit,
                batch.chunk_first,
                np.int32(dim),
                np.int32(lo),
                np.int32(hi),
                np.int32(config.signed),
                np.int32(use_shared),
                np.int32(CHUNK_LEN),
                counts,
            ),
            shared_mem=dim * 4 if use_shared else 0,
        )
    out = cupy.empty((batch.num_units, dim), dtype=cupy.float32)
    if batch.num_units:
        get_kernel("featurize", "featurize_finalize")(
            (batch.num_units,), (THREADS,), (counts, out, np.int32(dim), np.int32(config.normalize))
        )
    return out


def featurize(
    units: Sequence[UnitLike] | PackedUnits,
    config: FeatureConfig = FeatureConfig(),
    backend: BackendName | None = None,
) -> NDArray[np.float32]:
    """Embed each unit as a float32 row of ``config.dim`` hashed n-gram counts (NumPy array out)."""
    packed = pack_units(units)
    if resolve_backend(backend, "featurize") == "cuda":
        import cupy

        return np.asarray(cupy.asnumpy(featurize_cuda(packed, config)), dtype=np.float32)
    return featurize_reference(packed, config)
