"""MinHash signatures over byte shingles, Jaccard estimates and LSH banding for near-duplicates.

Shingles of unit ``u`` are its byte substrings of length ``shingle`` (a non-empty unit shorter than
that has one shingle: itself; an empty unit has none). ``x = fnv1a32(shingle_bytes)``;
permutation ``k`` is ``fmix32(x ^ seeds[k])`` with ``seeds[k] = fmix32((seed + k * 0x9E3779B9) mod
2**32)``; the signature holds the K minima as uint32. An empty unit's signature is all
``EMPTY_SIGNATURE`` (0xFFFFFFFF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .backend import BackendName, get_kernel, resolve_backend
from .hashing import FNV_OFFSET_BASIS, GOLDEN_RATIO_32, fmix32, fnv1a32_step
from .packing import DeviceBatch, PackedUnits, UnitLike, pack_units, to_device

EMPTY_SIGNATURE = np.uint32(0xFFFFFFFF)
#: Shingles per GPU block (their hashes live in shared memory: 4 bytes each).
CHUNK_LEN = 1024
THREADS = 128
_HOST_ROWS = 8192


@dataclass(frozen=True)
class MinHashConfig:
    """MinHash parameters; signatures are only comparable when these are equal."""

    num_perm: int = 128
    shingle: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.num_perm <= 4096:
            raise ValueError(f"num_perm must be in [1, 4096], got {self.num_perm}")
        if not 1 <= self.shingle <= 256:
            raise ValueError(f"shingle must be in [1, 256], got {self.shingle}")


def minhash_seeds(num_perm: int, seed: int) -> NDArray[np.uint32]:
    """Per-permutation seeds: ``fmix32((seed + k * 0x9E3779B9) mod 2**32)`` for k in 0..K-1."""
    k = np.arange(num_perm, dtype=np.uint64)
    raw = ((np.uint64(seed & 0xFFFFFFFF) + k * np.uint64(GOLDEN_RATIO_32)) & np.uint64(0xFFFFFFFF)).astype(
        np.uint32
    )
    return fmix32(raw)


def shingle_counts(lengths: NDArray[np.int64], shingle: int) -> NDArray[np.int64]:
    """Number of shingles per unit: ``len - s + 1``, 1 for ``0 < len < s``, 0 when empty."""
    return np.where(lengths >= shingle, lengths - shingle + 1, np.minimum(lengths, 1)).astype(np.int64)


def shingle_hashes(packed: PackedUnits, shingle: int) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """FNV-1a hash of every shingle and the unit it belongs to (units in order, so ids ascend)."""
    lengths = packed.lengths
    n_sh = shingle_counts(lengths, shingle)
    unit = np.repeat(np.arange(lengths.size, dtype=np.int64), n_sh)
    first = np.cumsum(n_sh) - n_sh
    start = packed.offsets[:-1][unit] + (np.arange(unit.size, dtype=np.int64) - first[unit])
    width = np.minimum(lengths, shingle)[unit]
    state = np.full(unit.size, FNV_OFFSET_BASIS, dtype=np.uint32)
    short = width < shingle
    for b in range(shingle):
        if short.any():
            active = width > b
            state[active] = fnv1a32_step(state[active], packed.data[start[active] + b])
        else:
            state = fnv1a32_step(state, packed.data[start + b])
    return state, unit


def minhash_reference(packed: PackedUnits, config: MinHashConfig = MinHashConfig()) -> NDArray[np.uint32]:
    """NumPy oracle: (B, K) uint32 signatures, shingles processed in bounded row blocks."""
    seeds = minhash_seeds(config.num_perm, config.seed)
    out = np.full((packed.num_units, config.num_perm), EMPTY_SIGNATURE, dtype=np.uint32)
    xs, unit = shingle_hashes(packed, config.shingle)
    for a in range(0, xs.size, _HOST_ROWS):
        block_units = unit[a : a + _HOST_ROWS]
        perm = fmix32(xs[a : a + _HOST_ROWS, None] ^ seeds[None, :])
        starts = np.flatnonzero(np.r_[True, block_units[1:] != block_units[:-1]])
        ids = block_units[starts]
        out[ids] = np.minimum(out[ids], np.minimum.reduceat(perm, starts, axis=0))
    return out


def minhash_cuda(packed: PackedUnits, config: MinHashConfig = MinHashConfig()) -> Any:
    """GPU path: uploads the batch and returns a cupy (B, K) uint32 array."""
    counts = shingle_counts(packed.lengths, config.shingle)
    return minhash_device(to_device(packed, counts, CHUNK_LEN), config)


def minhash_device(batch: DeviceBatch, config: MinHashConfig = MinHashConfig()) -> Any:
    """Kernel only, on a batch already on the device (chunks of ``CHUNK_LEN`` shingles)."""
    import cupy

    out = cupy.full((batch.num_units, config.num_perm), 0xFFFFFFFF, dtype=cupy.uint32)
    if batch.num_chunks:
        get_kernel("minhash", "minhash_signatures")(
            (batch.num_chunks,),
            (THREADS,),
            (
                batch.data,
                batch.offsets,
                batch.chunk_unit,
                batch.chunk_first,
                cupy.asarray(minhash_seeds(config.num_perm, config.seed)),
                np.int32(config.num_perm),
                np.int32(config.shingle),
                np.int32(CHUNK_LEN),
                out,
            ),
            shared_mem=CHUNK_LEN * 4,
        )
    return out


def minhash_signatures(
    units: Sequence[UnitLike] | PackedUnits,
    config: MinHashConfig = MinHashConfig(),
    backend: BackendName | None = None,
) -> NDArray[np.uint32]:
    """MinHash signature (K uint32 minima) per unit, as a NumPy array."""
    packed = pack_units(units)
    if resolve_backend(backend, "minhash") == "cuda":
        import cupy

        return np.asarray(cupy.asnumpy(minhash_cuda(packed, config)), dtype=np.uint32)
    return minhash_reference(packed, config)


def jaccard_estimate(sig_a: NDArray[np.uint32], sig_b: NDArray[np.uint32]) -> NDArray[np.float64]:
    """Share of equal signature positions (last axis); two empty units count 1.0, one empty 0.0."""
    a = np.asarray(sig_a)
    b = np.asarray(sig_b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError("signatures must have the same number of permutations")
    est = np.mean(a == b, axis=-1)
    empty_a = np.all(a == EMPTY_SIGNATURE, axis=-1)
    empty_b = np.all(b == EMPTY_SIGNATURE, axis=-1)
    return np.asarray(np.where(empty_a | empty_b, (empty_a & empty_b).astype(np.float64), est))


def lsh_buckets(signatures: NDArray[np.uint32], bands: int, rows: int) -> list[NDArray[np.int64]]:
    """Units whose signatures agree on all ``rows`` values of some band, one array per bucket (size >= 2).

    A pair with Jaccard J shares a bucket with probability ``1 - (1 - J**rows)**bands``.
    """
    sigs = np.asarray(signatures)
    if bands < 1 or rows < 1 or bands * rows > sigs.shape[1]:
        raise ValueError(f"need 1 <= bands * rows <= {sigs.shape[1]}, got {bands} x {rows}")
    buckets: list[NDArray[np.int64]] = []
    if sigs.shape[0] < 2:
        return buckets
    for band in range(bands):
        keys = np.ascontiguousarray(sigs[:, band * rows : (band + 1) * rows])
        _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(counts)
        for g in np.flatnonzero(counts >= 2):
            buckets.append(order[bounds[g] - counts[g] : bounds[g]].astype(np.int64))
    return buckets


def lsh_candidate_pairs(signatures: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.int64]:
    """Unique candidate pairs ``(i, j)``, ``i < j``, sorted, as an (P, 2) int64 array.

    Quadratic in bucket size: dedupe identical signatures first when many units are identical.
    """
    parts = []
    for members in lsh_buckets(signatures, bands, rows):
        i, j = np.triu_indices(members.size, k=1)
        parts.append(np.stack([members[i], members[j]], axis=1))
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(parts), axis=0).astype(np.int64)
