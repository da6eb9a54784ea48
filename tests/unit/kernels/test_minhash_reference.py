"""NumPy oracle of MinHash: hand-computed signatures, brute force, Jaccard accuracy and LSH banding."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_kernels.hashing import fmix32, fmix32_scalar, fnv1a32
from portalis_kernels.minhash import (
    EMPTY_SIGNATURE,
    MinHashConfig,
    jaccard_estimate,
    lsh_buckets,
    lsh_candidate_pairs,
    minhash_reference,
    minhash_seeds,
    minhash_signatures,
)
from portalis_kernels.packing import pack_units

pytestmark = pytest.mark.unit
minhash_mod = importlib.import_module("portalis_kernels.minhash")


def shingle_set(unit: bytes, s: int) -> set[int]:
    if not unit:
        return set()
    if len(unit) < s:
        return {fnv1a32(unit)}
    return {fnv1a32(unit[p : p + s]) for p in range(len(unit) - s + 1)}


def brute_force(units: list[bytes], config: MinHashConfig) -> np.ndarray:
    seeds = [int(x) for x in minhash_seeds(config.num_perm, config.seed)]
    out = np.full((len(units), config.num_perm), 0xFFFFFFFF, dtype=np.uint32)
    for i, unit in enumerate(units):
        for x in shingle_set(unit, config.shingle):
            for k, seed in enumerate(seeds):
                out[i, k] = min(int(out[i, k]), fmix32_scalar(x ^ seed))
    return out


def test_fmix32_vectorised_matches_scalar() -> None:
    xs = np.array([0, 1, 0xDEADBEEF, 0xFFFFFFFF], dtype=np.uint32)
    assert fmix32(xs).tolist() == [fmix32_scalar(int(x)) for x in xs]
    assert fmix32_scalar(0) == 0


def test_seeds_follow_the_documented_formula() -> None:
    seeds = minhash_seeds(3, 1)
    assert seeds.dtype == np.uint32
    assert seeds.tolist() == [fmix32_scalar((1 + k * 0x9E3779B9) & 0xFFFFFFFF) for k in range(3)]


def test_hand_computed_signatures() -> None:
    config = MinHashConfig(num_perm=4, shingle=5, seed=1)
    seeds = [int(x) for x in minhash_seeds(4, 1)]
    sig = minhash_reference(pack_units([b"hello", b"hi", b""]), config)
    assert sig[0].tolist() == [fmix32_scalar(fnv1a32(b"hello") ^ s) for s in seeds]
    # Shorter than the shingle: the whole unit is its only shingle.
    assert sig[1].tolist() == [fmix32_scalar(fnv1a32(b"hi") ^ s) for s in seeds]
    assert (sig[2] == EMPTY_SIGNATURE).all()


@settings(max_examples=50, deadline=None)
@given(
    units=st.lists(st.binary(max_size=30), max_size=5),
    shingle=st.integers(1, 6),
    num_perm=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_brute_force(units: list[bytes], shingle: int, num_perm: int, seed: int) -> None:
    config = MinHashConfig(num_perm=num_perm, shingle=shingle, seed=seed)
    got = minhash_reference(pack_units(units), config)
    assert got.shape == (len(units), num_perm)
    np.testing.assert_array_equal(got, brute_force(units, config))


def test_row_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    units = [rng.integers(0, 4, size=n, dtype=np.uint8).tobytes() for n in (0, 3, 2_000, 7, 40)]
    config = MinHashConfig(num_perm=16, shingle=4)
    whole = minhash_reference(pack_units(units), config)
    monkeypatch.setattr(minhash_mod, "_HOST_ROWS", 5)
    np.testing.assert_array_equal(minhash_reference(pack_units(units), config), whole)


def test_duplicate_shingles_are_a_set() -> None:
    config = MinHashConfig(num_perm=32, shingle=3)
    sig = minhash_reference(pack_units([b"abcabcabc", b"abcabc"]), config)
    np.testing.assert_array_equal(sig[0], sig[1])


def _pair_with_overlap(rng: np.random.Generator, shared: int, own: int) -> tuple[bytes, bytes]:
    """Two token streams sharing ``shared`` random 8-byte tokens; the rest differ."""
    common = [rng.integers(0, 256, 8, dtype=np.uint8).tobytes() for _ in range(shared)]
    a = common + [rng.integers(0, 256, 8, dtype=np.uint8).tobytes() for _ in range(own)]
    b = common + [rng.integers(0, 256, 8, dtype=np.uint8).tobytes() for _ in range(own)]
    return b"|".join(a), b"|".join(b)


@pytest.mark.parametrize(("seed", "shared", "own"), [(0, 100, 0), (1, 80, 20), (2, 50, 50), (3, 20, 80)])
def test_jaccard_estimate_close_to_true_jaccard(seed: int, shared: int, own: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _pair_with_overlap(rng, shared, own)
    config = MinHashConfig(num_perm=256, shingle=5, seed=seed)
    sa, sb = shingle_set(a, 5), shingle_set(b, 5)
    true = len(sa & sb) / len(sa | sb)
    sig = minhash_signatures([a, b], config, backend="numpy")
    # std of the estimate is sqrt(J(1-J)/K) <= 0.032 for K = 256; 0.1 is > 3 sigma.
    assert abs(float(jaccard_estimate(sig[0], sig[1])) - true) < 0.1


def test_jaccard_estimate_semantics() -> None:
    sig = minhash_reference(pack_units([b"", b"", b"some text here", b"some text here"]), MinHashConfig())
    assert float(jaccard_estimate(sig[0], sig[1])) == 1.0
    assert float(jaccard_estimate(sig[0], sig[2])) == 0.0
    assert float(jaccard_estimate(sig[2], sig[3])) == 1.0
    batched = jaccard_estimate(sig[[0, 0, 2]], sig[[1, 2, 3]])
    assert batched.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="same number"):
        jaccard_estimate(sig[0], sig[1][:5])


def test_lsh_finds_near_duplicates_only() -> None:
    rng = np.random.default_rng(11)
    base = rng.integers(32, 127, 3000, dtype=np.uint8).tobytes()
    edited = base[:1500] + b"X" + base[1501:]
    other = rng.integers(32, 127, 3000, dtype=np.uint8).tobytes()
    sig = minhash_reference(pack_units([base, other, edited]), MinHashConfig())
    pairs = lsh_candidate_pairs(sig, bands=32, rows=4)
    assert pairs.dtype == np.int64
    assert pairs.tolist() == [[0, 2]]


def test_lsh_buckets_and_pair_shape() -> None:
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 7, 3, 4], [5, 5, 5, 5]], dtype=np.uint32)
    buckets = [b.tolist() for b in lsh_buckets(sig, bands=2, rows=2)]
    assert sorted(buckets) == [[0, 1], [0, 2]]
    assert lsh_candidate_pairs(sig, 2, 2).tolist() == [[0, 1], [0, 2]]
    assert lsh_candidate_pairs(sig[:1], 2, 2).shape == (0, 2)
    with pytest.raises(ValueError, match="bands"):
        lsh_buckets(sig, bands=3, rows=2)


def test_invalid_config() -> None:
    with pytest.raises(ValueError, match="num_perm"):
        MinHashConfig(num_perm=0)
    with pytest.raises(ValueError, match="shingle"):
        MinHashConfig(shingle=0)
