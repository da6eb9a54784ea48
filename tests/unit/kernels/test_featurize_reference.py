"""NumPy oracle of the hashed n-gram embedding against hand-computed values and a scalar brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_kernels import featurize as featurize_mod
from portalis_kernels.featurize import FeatureConfig, featurize, featurize_reference
from portalis_kernels.hashing import fnv1a32
from portalis_kernels.packing import pack_units

pytestmark = pytest.mark.unit


def brute_force(units: list[bytes], config: FeatureConfig) -> np.ndarray:
    """Straight from the definition, one n-gram at a time."""
    lo, hi = config.ngram_range
    out = np.zeros((len(units), config.dim), dtype=np.float64)
    for i, unit in enumerate(units):
        for p in range(len(unit)):
            for n in range(lo, hi + 1):
                if p + n <= len(unit):
                    h = fnv1a32(unit[p : p + n])
                    out[i, h % config.dim] += -1.0 if config.signed and h >> 31 else 1.0
    if config.normalize:
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        out = np.where(norm > 0, out / np.where(norm > 0, norm, 1), 0)
    return out.astype(np.float32)


def test_fnv1a32_reference_vectors() -> None:
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_hand_computed_unigram() -> None:
    # fnv1a32(b"a") = 0xE40C292C; 0xE40C292C % 16 = 12; bit 31 set, so signed weight is -1.
    plain = featurize_reference(pack_units([b"a"]), FeatureConfig(dim=16, normalize=False))
    assert plain[0].tolist() == [0.0] * 12 + [1.0] + [0.0] * 3
    signed = featurize_reference(pack_units([b"a"]), FeatureConfig(dim=16, signed=True, normalize=False))
    assert signed[0, 12] == -1.0


def test_counts_add_up_to_number_of_ngrams() -> None:
    units = [b"", b"a", b"ab", b"abc", b"abcdefgh"]
    feats = featurize_reference(pack_units(units), FeatureConfig(dim=64, normalize=False))
    expected = [sum(max(len(u) - n + 1, 0) for n in (1, 2, 3)) for u in units]
    assert feats.sum(axis=1).tolist() == expected


def test_units_shorter_than_n_and_empty_are_zero() -> None:
    config = FeatureConfig(dim=32, ngram_range=(3, 4))
    feats = featurize_reference(pack_units([b"", b"a", b"ab", b"abc"]), config)
    assert not feats[:3].any()
    assert np.isclose(np.linalg.norm(feats[3]), 1.0)


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.binary(max_size=40), max_size=6),
    dim=st.sampled_from([1, 7, 16, 1024]),
    lo=st.integers(1, 3),
    span=st.integers(0, 2),
    signed=st.booleans(),
    normalize=st.booleans(),
)
def test_matches_brute_force(
    units: list[bytes], dim: int, lo: int, span: int, signed: bool, normalize: bool
) -> None:
    config = FeatureConfig(dim=dim, ngram_range=(lo, lo + span), signed=signed, normalize=normalize)
    got = featurize_reference(pack_units(units), config)
    assert got.shape == (len(units), dim)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, brute_force(units, config), rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(unit=st.binary(max_size=200), others=st.lists(st.binary(max_size=50), max_size=4))
def test_identical_units_identical_rows_regardless_of_batch(unit: bytes, others: list[bytes]) -> None:
    batch = [*others, unit, unit]
    feats = featurize_reference(pack_units(batch), FeatureConfig(dim=128))
    alone = featurize_reference(pack_units([unit]), FeatureConfig(dim=128))
    np.testing.assert_array_equal(feats[-1], feats[-2])
    np.testing.assert_array_equal(feats[-1], alone[0])


def test_long_unit_and_host_batching(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    units = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in (0, 5, 20_000, 3, 1)]
    config = FeatureConfig(dim=512, signed=True, normalize=False)
    whole = featurize_reference(pack_units(units), config)
    monkeypatch.setattr(featurize_mod, "_HOST_BATCH_BYTES", 4)
    batched = featurize_reference(pack_units(units), config)
    np.testing.assert_array_equal(whole, batched)
    np.testing.assert_allclose(whole, brute_force(units, config))


def test_invalid_config() -> None:
    with pytest.raises(ValueError, match="ngram_range"):
        FeatureConfig(ngram_range=(2, 1))
    with pytest.raises(ValueError, match="dim"):
        FeatureConfig(dim=0)


def test_public_function_numpy_backend_equals_reference() -> None:
    units = ["def f(x):\n    return x\n", "", "é"]
    np.testing.assert_array_equal(
        featurize(units, backend="numpy"), featurize_reference(pack_units(units), FeatureConfig())
    )
