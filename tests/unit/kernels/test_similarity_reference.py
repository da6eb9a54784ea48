"""NumPy oracle of cosine top-k: hand values, brute-force sort, ties, padding and zero vectors."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from portalis_kernels.similarity import (
    cosine_scores_reference,
    cosine_topk,
    cosine_topk_reference,
    l2_normalize_rows_reference,
    topk_from_scores,
)

pytestmark = pytest.mark.unit
similarity_mod = importlib.import_module("portalis_kernels.similarity")


def brute_force(scores: np.ndarray, k: int) -> tuple[list[list[int]], list[list[float]]]:
    idx, val = [], []
    for row in scores:
        order = sorted(range(row.size), key=lambda m: (-float(row[m]), m))[:k]
        pad = k - len(order)
        idx.append(order + [-1] * pad)
        val.append([float(row[m]) for m in order] + [float("-inf")] * pad)
    return idx, val


def test_hand_computed_with_ties() -> None:
    queries = np.array([[1.0, 0.0]], dtype=np.float32)
    memory = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    idx, val = cosine_topk_reference(queries, memory, 3)
    assert idx.tolist() == [[1, 2, 0]]
    assert val.tolist() == [[1.0, 1.0, 0.0]]


def test_k_larger_than_memory_pads() -> None:
    queries = np.ones((2, 3), dtype=np.float32)
    memory = np.array([[1, 0, 0], [1, 1, 1]], dtype=np.float32)
    idx, val = cosine_topk_reference(queries, memory, 5)
    assert idx.shape == val.shape == (2, 5)
    assert idx[0].tolist() == [1, 0, -1, -1, -1]
    assert np.isneginf(val[:, 2:]).all()


def test_empty_cases() -> None:
    memory = np.ones((4, 3), dtype=np.float32)
    assert cosine_topk_reference(np.ones((2, 3), np.float32), memory, 0)[0].shape == (2, 0)
    idx, val = cosine_topk_reference(np.ones((2, 3), np.float32), np.zeros((0, 3), np.float32), 2)
    assert (idx == -1).all()
    assert np.isneginf(val).all()
    assert cosine_topk_reference(np.zeros((0, 3), np.float32), memory, 2)[0].shape == (0, 2)


def test_zero_vectors_score_zero_and_tie_by_index() -> None:
    memory = np.array([[0, 0], [1, 0], [0, 0], [-1, 0]], dtype=np.float32)
    idx, val = cosine_topk_reference(np.zeros((1, 2), np.float32), memory, 3)
    assert idx.tolist() == [[0, 1, 2]]
    assert val.tolist() == [[0.0, 0.0, 0.0]]
    idx, val = cosine_topk_reference(np.array([[1, 0]], np.float32), memory, 4)
    assert idx.tolist() == [[1, 0, 2, 3]]
    assert not np.isnan(l2_normalize_rows_reference(memory)).any()


@settings(max_examples=80, deadline=None)
@given(
    scores=hnp.arrays(
        np.float32,
        st.tuples(st.integers(0, 5), st.integers(0, 12)),
        elements=st.sampled_from([-1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0]),
    ),
    k=st.integers(0, 15),
)
def test_topk_matches_brute_force_sort_with_many_ties(scores: np.ndarray, k: int) -> None:
    idx, val = topk_from_scores(scores, k)
    want_idx, want_val = brute_force(scores, k)
    assert idx.tolist() == want_idx
    assert val.tolist() == want_val


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nq=st.integers(1, 6),
    nm=st.integers(1, 40),
    dim=st.integers(1, 17),
    k=st.integers(1, 45),
)
def test_cosine_topk_matches_brute_force(seed: int, nq: int, nm: int, dim: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    queries = rng.integers(-2, 3, size=(nq, dim)).astype(np.float32)
    memory = rng.integers(-2, 3, size=(nm, dim)).astype(np.float32)
    memory[rng.integers(0, nm)] = memory[0]  # an exact duplicate row: a guaranteed tie
    idx, val = cosine_topk_reference(queries, memory, k)
    scores = cosine_scores_reference(queries, memory)
    want_idx, want_val = brute_force(scores, k)
    assert idx.tolist() == want_idx
    assert val.tolist() == want_val


def test_query_batching(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    queries = rng.normal(size=(37, 8)).astype(np.float32)
    memory = rng.normal(size=(50, 8)).astype(np.float32)
    whole = cosine_topk_reference(queries, memory, 7)
    monkeypatch.setattr(similarity_mod, "_SCORE_ELEMS", 120)
    batched = cosine_topk_reference(queries, memory, 7)
    np.testing.assert_array_equal(whole[0], batched[0])
    np.testing.assert_array_equal(whole[1], batched[1])


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="dim mismatch"):
        cosine_topk(np.ones((1, 3)), np.ones((2, 4)), 1, backend="numpy")
    with pytest.raises(ValueError, match="2-D"):
        cosine_topk(np.ones(3), np.ones((2, 3)), 1, backend="numpy")
    with pytest.raises(ValueError, match="k must"):
        cosine_topk(np.ones((1, 3)), np.ones((2, 3)), -1, backend="numpy")


def test_public_function_accepts_float64_and_matches_reference() -> None:
    rng = np.random.default_rng(9)
    queries, memory = rng.normal(size=(4, 6)), rng.normal(size=(9, 6))
    idx, val = cosine_topk(queries, memory, 3, backend="numpy")
    ref_idx, ref_val = cosine_topk_reference(queries.astype(np.float32), memory.astype(np.float32), 3)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val)
    assert idx.dtype == np.int64
    assert val.dtype == np.float32
