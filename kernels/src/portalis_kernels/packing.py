"""The batch layout all kernels take: one concatenated uint8 buffer plus int64 offsets (CSR style).

One contiguous buffer is what a GPU wants (one host-to-device copy, coalesced reads); offsets of
length ``B + 1`` give unit ``i`` the bytes ``data[offsets[i]:offsets[i + 1]]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

UnitLike = bytes | bytearray | memoryview | str


@dataclass(frozen=True)
class PackedUnits:
    """A batch of byte strings: ``data`` (uint8) and ``offsets`` (int64, length ``B + 1``)."""

    data: NDArray[np.uint8]
    offsets: NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.data.dtype != np.uint8 or self.data.ndim != 1:
            raise ValueError("data must be a 1-D uint8 array")
        if self.offsets.dtype != np.int64 or self.offsets.ndim != 1 or self.offsets.size < 1:
            raise ValueError("offsets must be a 1-D int64 array of length B + 1")
        if self.offsets[0] != 0 or self.offsets[-1] != self.data.size:
            raise ValueError("offsets must start at 0 and end at len(data)")
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing")

    @property
    def num_units(self) -> int:
        """Number of units in the batch."""
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Byte length of each unit."""
        return np.diff(self.offsets)

    def unit(self, i: int) -> bytes:
        """Bytes of unit ``i`` (for tests and debugging)."""
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()


def _as_bytes(unit: UnitLike) -> bytes:
    return unit.encode("utf-8") if isinstance(unit, str) else bytes(unit)


def pack_units(units: Sequence[UnitLike] | PackedUnits) -> PackedUnits:
    """Pack byte strings (``str`` as UTF-8) into the concatenated layout; packed input passes through."""
    if isinstance(units, PackedUnits):
        return units
    blobs = [_as_bytes(u) for u in units]
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8).copy()
    return PackedUnits(data=data, offsets=offsets)


def unit_batches(offsets: NDArray[np.int64], max_bytes: int) -> Iterator[tuple[int, int]]:
    """Split units into consecutive ranges ``[u0, u1)`` of about ``max_bytes`` to bound host memory.

    A single unit longer than ``max_bytes`` forms its own range, so no unit is ever split.
    """
    num_units = offsets.size - 1
    u0 = 0
    while u0 < num_units:
        limit = offsets[u0] + max_bytes
        u1 = int(np.searchsorted(offsets, limit, side="right")) - 1
        u1 = min(max(u1, u0 + 1), num_units)
        yield u0, u1
        u0 = u1


def chunk_plan(counts: NDArray[np.int64], chunk_len: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Work list for the GPU: one entry per ``chunk_len`` items of each unit, as (unit, first item).

    Splitting long units into chunks keeps blocks balanced however skewed the unit lengths are;
    units with no items get no chunk.
    """
    chunks_per_unit = (counts + chunk_len - 1) // chunk_len
    chunk_unit = np.repeat(np.arange(counts.size, dtype=np.int64), chunks_per_unit)
    first_chunk = np.cumsum(chunks_per_unit) - chunks_per_unit
    chunk_first = (np.arange(chunk_unit.size, dtype=np.int64) - first_chunk[chunk_unit]) * chunk_len
    return chunk_unit, chunk_first


@dataclass(frozen=True)
class DeviceBatch:
    """A packed batch and its chunk work list already on the GPU (cupy arrays), reusable across launches."""

    data: Any
    offsets: Any
    chunk_unit: Any
    chunk_first: Any
    num_units: int

    @property
    def num_chunks(self) -> int:
        """Blocks to launch (0 when every unit is empty)."""
        return int(self.chunk_unit.size)


def to_device(packed: PackedUnits, item_counts: NDArray[np.int64], chunk_len: int) -> DeviceBatch:
    """Upload a batch and its work list (``item_counts`` per unit, split into ``chunk_len`` chunks)."""
    import cupy

    chunk_unit, chunk_first = chunk_plan(item_counts, chunk_len)
    return DeviceBatch(
        data=cupy.asarray(packed.data),
        offsets=cupy.asarray(packed.offsets),
        chunk_unit=cupy.asarray(chunk_unit),
        chunk_first=cupy.asarray(chunk_first),
        num_units=packed.num_units,
    )
