"""The hash functions every kernel uses, in NumPy, so the CUDA C and the oracle share one definition.

FNV-1a 32-bit hashes byte n-grams and shingles (cheap, incremental: the hash of an n-gram is the
state after its n bytes, so 1..n-grams at one position cost n steps). The MurmurHash3 32-bit
finaliser (``fmix32``) is a bijection on uint32 and turns one shingle hash into K independent-looking
MinHash permutations via ``fmix32(x ^ seed_k)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619
GOLDEN_RATIO_32 = 0x9E3779B9
_MASK32 = 0xFFFFFFFF

U32 = NDArray[np.uint32]


def fnv1a32(data: bytes) -> int:
    """FNV-1a 32-bit of ``data``: the scalar definition the vectorised paths are tested against."""
    h = FNV_OFFSET_BASIS
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _MASK32
    return h


def fnv1a32_step(state: U32, byte: NDArray[np.uint8]) -> U32:
    """One FNV-1a step on many states at once (uint32 arithmetic wraps modulo 2**32)."""
    return (state ^ byte.astype(np.uint32)) * np.uint32(FNV_PRIME)


def fmix32_scalar(h: int) -> int:
    """MurmurHash3 fmix32 on one value, for hand-computed expectations."""
    h &= _MASK32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h


def fmix32(h: U32) -> U32:
    """MurmurHash3 fmix32, vectorised; a bijection on uint32 with good avalanche."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))
