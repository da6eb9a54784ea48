"""The concatenated-buffer layout and the GPU work-list helpers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from portalis_kernels.packing import PackedUnits, chunk_plan, pack_units, unit_batches

pytestmark = pytest.mark.unit


def test_pack_units_layout() -> None:
    packed = pack_units([b"ab", "", "é", bytearray(b"xyz")])
    assert packed.offsets.tolist() == [0, 2, 2, 4, 7]
    assert packed.unit(2) == "é".encode()
    assert packed.num_units == 4
    assert pack_units(packed) is packed


def test_pack_empty_batch() -> None:
    packed = pack_units([])
    assert packed.num_units == 0
    assert packed.data.size == 0


def test_invalid_offsets_rejected() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        PackedUnits(np.zeros(3, np.uint8), np.array([0, 2, 1, 3], np.int64))
    with pytest.raises(ValueError, match="start at 0"):
        PackedUnits(np.zeros(3, np.uint8), np.array([0, 2], np.int64))


def test_chunk_plan_covers_every_item_once() -> None:
    counts = np.array([0, 1, 5, 4, 0, 9], dtype=np.int64)
    unit, first = chunk_plan(counts, 4)
    assert unit.tolist() == [1, 2, 2, 3, 5, 5, 5]
    assert first.tolist() == [0, 0, 4, 0, 0, 4, 8]


def test_unit_batches_never_split_units() -> None:
    offsets = np.array([0, 3, 3, 20, 22, 23], dtype=np.int64)
    ranges = list(unit_batches(offsets, 5))
    assert ranges[0][0] == 0
    assert ranges[-1][1] == 5
    assert all(a < b for a, b in ranges)
    assert all(r1[1] == r2[0] for r1, r2 in itertools.pairwise(ranges))
