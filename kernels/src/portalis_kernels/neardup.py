"""What the worker calls: near-duplicate groups of units, and few-shot examples from a translation memory.

Near-duplicates are translated once and the result reused (MinHash + LSH, then verified by the
estimated Jaccard); the translation memory returns the already-translated units most similar to a
new one (hashed n-gram embedding + cosine top-k) as examples for the model prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .backend import BackendName
from .featurize import FeatureConfig, featurize
from .minhash import MinHashConfig, jaccard_estimate, lsh_candidate_pairs, minhash_signatures
from .packing import PackedUnits, UnitLike
from .similarity import cosine_topk


@dataclass(frozen=True)
class NearDupConfig:
    """MinHash/LSH settings; 32 bands of 4 rows find pairs with J >= 0.8 with probability > 0.999."""

    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    bands: int = 32
    rows: int = 4
    threshold: float = 0.8


def _find(parent: NDArray[np.int64], i: int) -> int:
    root = i
    while parent[root] != root:
        root = int(parent[root])
    while parent[i] != root:
        parent[i], i = root, int(parent[i])
    return root


def near_duplicate_groups(
    units: Sequence[UnitLike] | PackedUnits,
    config: NearDupConfig = NearDupConfig(),
    backend: BackendName | None = None,
) -> list[list[int]]:
    """Groups (size >= 2) of unit indices whose estimated Jaccard links them, transitively.

    Groups are sorted lists, ordered by their first index. Units with identical signatures (e.g.
    identical sources, or several empty units) always share a group; they are collapsed before
    banding so a large set of copies does not cost a quadratic number of pairs.
    """
    sigs = minhash_signatures(units, config.minhash, backend=backend)
    if sigs.shape[0] < 2:
        return []
    uniq, inverse = np.unique(sigs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    parent = np.arange(uniq.shape[0], dtype=np.int64)
    pairs = lsh_candidate_pairs(uniq, config.bands, config.rows)
    if pairs.size:
        est = jaccard_estimate(uniq[pairs[:, 0]], uniq[pairs[:, 1]])
        for a, b in pairs[est >= config.threshold]:
            ra, rb = _find(parent, int(a)), _find(parent, int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([_find(parent, int(inverse[i])) for i in range(inverse.size)], dtype=np.int64)
    order = np.argsort(roots, kind="stable")
    _, starts, counts = np.unique(roots[order], return_index=True, return_counts=True)
    groups = [sorted(order[s : s + c].tolist()) for s, c in zip(starts, counts, strict=True) if c >= 2]
    return sorted(groups, key=lambda g: g[0])


@dataclass(frozen=True)
class SimilarExample:
    """One retrieved translation-memory entry."""

    index: int
    score: float
    source: str
    translation: str


class TranslationMemory:
    """Already-translated units with their embeddings, searchable by cosine similarity."""

    def __init__(self, config: FeatureConfig | None = None, backend: BackendName | None = None) -> None:
        self.config = config if config is not None else FeatureConfig()
        self.backend = backend
        self._sources: list[str] = []
        self._translations: list[str] = []
        self._blocks: list[NDArray[np.float32]] = []
        self._matrix: NDArray[np.float32] = np.zeros((0, self.config.dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._sources)

    @property
    def embeddings(self) -> NDArray[np.float32]:
        """(M, dim) float32 embeddings, concatenated lazily so adds stay amortised O(1)."""
        if self._blocks:
            self._matrix = np.concatenate([self._matrix, *self._blocks])
            self._blocks = []
        return self._matrix

    def add(self, sources: Sequence[str], translations: Sequence[str]) -> None:
        """Add translated units (source, translation pairs)."""
        if len(sources) != len(translations):
            raise ValueError("sources and translations must have the same length")
        if not sources:
            return
        self._blocks.append(featurize(sources, self.config, backend=self.backend))
        self._sources.extend(sources)
        self._translations.extend(translations)

    def most_similar(self, queries: Sequence[str], k: int) -> list[list[SimilarExample]]:
        """For each query source, up to ``k`` most similar entries (best first, ties by insertion order)."""
        if not queries:
            return []
        emb = featurize(queries, self.config, backend=self.backend)
        idx, val = cosine_topk(emb, self.embeddings, k, backend=self.backend)
        return [
            [
                SimilarExample(int(i), float(s), self._sources[int(i)], self._translations[int(i)])
                for i, s in zip(row_i, row_s, strict=True)
                if i >= 0
            ]
            for row_i, row_s in zip(idx, val, strict=True)
        ]
