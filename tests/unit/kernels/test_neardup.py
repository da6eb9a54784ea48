"""What the worker calls: near-duplicate groups and translation-memory retrieval (NumPy path)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from portalis_kernels.neardup import NearDupConfig, TranslationMemory, near_duplicate_groups

pytestmark = pytest.mark.unit


def _source(rng: np.random.Generator, n: int) -> str:
    words = ["def", "return", "self", "x", "y", "for", "in", "range", "if", "else", "(", ")", ":", "\n"]
    return " ".join(rng.choice(words, size=n).tolist()) + f" # {rng.integers(1 << 30)}"


def test_groups_near_duplicates_and_identical_empties() -> None:
    rng = np.random.default_rng(2)
    a = _source(rng, 400)
    b = _source(rng, 400)
    units = [a, b, a.replace("return", "return ", 1), "", "tiny", "", b + "\n"]
    assert near_duplicate_groups(units, backend="numpy") == [[0, 2], [1, 6], [3, 5]]


def test_threshold_is_respected() -> None:
    rng = np.random.default_rng(4)
    a = _source(rng, 300)
    half = a[: len(a) // 2] + _source(rng, 150)
    assert near_duplicate_groups([a, half], backend="numpy") == []
    loose = NearDupConfig(threshold=0.2)
    assert near_duplicate_groups([a, half], loose, backend="numpy") == [[0, 1]]


def test_small_inputs() -> None:
    assert near_duplicate_groups([], backend="numpy") == []
    assert near_duplicate_groups(["only one"], backend="numpy") == []
    assert near_duplicate_groups(["same", "same", "same"], backend="numpy") == [[0, 1, 2]]


def test_translation_memory_retrieves_most_similar() -> None:
    tm = TranslationMemory(backend="numpy")
    assert tm.most_similar(["def f(): pass"], 3) == [[]]
    tm.add(
        ["def add(a, b):\n    return a + b\n", "class Point:\n    pass\n", "for i in range(10): print(i)"],
        ["fn add(a: i64, b: i64) -> i64 { a + b }", "struct Point;", 'for i in 0..10 { println!("{i}"); }'],
    )
    tm.add(["def add(a, b):\n    return a + b\n"], ["duplicate entry"])
    assert len(tm) == 4
    [hits] = tm.most_similar(["def add(x, y):\n    return x + y\n"], 10)
    assert len(hits) == 4
    assert [h.index for h in hits[:2]] == [0, 3]  # identical entries tie; lower index first
    assert hits[0].translation.startswith("fn add")
    assert hits[0].score == hits[1].score
    assert all(h1.score >= h2.score for h1, h2 in itertools.pairwise(hits))
    assert tm.most_similar([], 2) == []
    with pytest.raises(ValueError, match="same length"):
        tm.add(["a"], [])
