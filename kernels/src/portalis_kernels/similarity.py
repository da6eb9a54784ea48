"""Cosine-similarity top-k of query embeddings against a translation memory.

Rows are L2-normalised (norm in float64, zero rows stay zero, so a zero vector scores 0.0 against
everything), scores are dot products returned as float32 (the NumPy oracle computes them in float64
and rounds once; the GPU accumulates in float32, so the two agree to about 1e-6), and each query
gets the ``k`` best memory rows by score descending, ties by lower index. The output always has
shape (Q, k): when ``k`` exceeds the memory size M the tail is padded with index -1 and score
-inf, so batches keep a fixed width. NaN inputs give unspecified results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .backend import BackendName, get_kernel, resolve_backend

#: Largest k the fused GPU selection kernel handles; larger k sorts rank keys with cupy instead.
TOPK_KMAX = 32
TOPK_THREADS = 128
TILE = 16
NORM_THREADS = 256
_SCORE_ELEMS = 1 << 26  # score-matrix elements per query batch (256 MiB of float32)

TopK = tuple[NDArray[np.int64], NDArray[np.float32]]


def _check_inputs(queries: NDArray[Any], memory: NDArray[Any], k: int) -> None:
    if queries.ndim != 2 or memory.ndim != 2:
        raise ValueError("queries and memory must be 2-D (rows x dim)")
    if queries.shape[1] != memory.shape[1]:
        raise ValueError(f"dim mismatch: queries {queries.shape[1]} vs memory {memory.shape[1]}")
    if k < 0:
        raise ValueError("k must be >= 0")


def _normalized64(x: NDArray[Any]) -> NDArray[np.float64]:
    x64 = np.asarray(x, dtype=np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", x64, x64))[:, None]
    return np.where(norm > 0.0, x64 / np.where(norm > 0.0, norm, 1.0), 0.0)


def l2_normalize_rows_reference(x: NDArray[Any]) -> NDArray[np.float32]:
    """Rows divided by their L2 norm (float64 accumulation), zero rows left zero, as float32."""
    return _normalized64(x).astype(np.float32)


def cosine_scores_reference(queries: NDArray[Any], memory: NDArray[Any]) -> NDArray[np.float32]:
    """(Q, M) cosine scores, computed in float64 and rounded once to float32.

    float64 keeps the oracle independent of how BLAS blocks the product: a float32 GEMM may round
    the same (query, row) pair differently depending on batch shape, which would break exact ties.
    """
    return (_normalized64(queries) @ _normalized64(memory).T).astype(np.float32)


def topk_from_scores(scores: NDArray[np.float32], k: int) -> TopK:
    """Exact top-k per row (score desc, ties by lower index), padded with (-1, -inf) past M."""
    nq, nm = scores.shape
    idx = np.full((nq, k), -1, dtype=np.int64)
    val = np.full((nq, k), -np.inf, dtype=np.float32)
    kk = min(k, nm)
    if kk == 0 or nq == 0:
        return idx, val
    if kk == nm:
        cols = np.broadcast_to(np.arange(nm, dtype=np.int64), (nq, nm))
    else:
        # Threshold = kk-th largest; keep everything above it and the lowest-index ties at it.
        thr = np.partition(scores, nm - kk, axis=1)[:, nm - kk][:, None]
        above = scores > thr
        at = scores == thr
        need = kk - above.sum(axis=1, keepdims=True)
        chosen = above | (at & (np.cumsum(at, axis=1) <= need))
        cols = np.nonzero(chosen)[1].reshape(nq, kk).astype(np.int64)
    cand = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-cand, axis=1, kind="stable")  # cols ascend, so ties keep the lower index
    idx[:, :kk] = np.take_along_axis(cols, order, axis=1)
    val[:, :kk] = np.take_along_axis(cand, order, axis=1)
    return idx, val


def cosine_topk_reference(queries: NDArray[Any], memory: NDArray[Any], k: int) -> TopK:
    """NumPy oracle: float64 scores rounded to float32, exact tie-aware selection, in query batches."""
    _check_inputs(queries, memory, k)
    qn = _normalized64(queries)
    mn = _normalized64(memory)
    nq, nm = qn.shape[0], mn.shape[0]
    idx = np.full((nq, k), -1, dtype=np.int64)
    val = np.full((nq, k), -np.inf, dtype=np.float32)
    step = max(1, _SCORE_ELEMS // max(nm, 1))
    for a in range(0, nq, step):
        scores = (qn[a : a + step] @ mn.T).astype(np.float32)
        idx[a : a + step], val[a : a + step] = topk_from_scores(scores, k)
    return idx, val


def _normalize_cuda(x: Any) -> Any:
    import cupy

    out = cupy.empty(x.shape, dtype=cupy.float32)
    if x.shape[0]:
        get_kernel("similarity", "l2_normalize_rows")(
            (x.shape[0],), (NORM_THREADS,), (x, out, np.int32(x.shape[1]))
        )
    return out


def _topk_sorted_cuda(scores: Any, k: int) -> tuple[Any, Any]:
    """k > TOPK_KMAX: sort the same 64-bit rank keys with cupy (exact, same tie rule)."""
    import cupy

    nq, nm = scores.shape
    bits = scores.view(cupy.uint32).astype(cupy.uint64)
    ordered = cupy.where(bits & 0x80000000, ~bits & 0xFFFFFFFF, bits | 0x80000000)
    keys = ((~ordered & 0xFFFFFFFF) << 32) | cupy.arange(nm, dtype=cupy.uint64)[None, :]
    kk = min(k, nm)
    top = cupy.sort(keys, axis=1)[:, :kk]
    cols = (top & 0xFFFFFFFF).astype(cupy.int64)
    idx = cupy.full((nq, k), -1, dtype=cupy.int64)
    val = cupy.full((nq, k), -cupy.inf, dtype=cupy.float32)
    idx[:, :kk] = cols
    val[:, :kk] = cupy.take_along_axis(scores, cols, axis=1)
    return idx, val


def cosine_topk_cuda(queries: Any, memory: Any, k: int) -> tuple[Any, Any]:
    """GPU path on cupy (or host) arrays; returns cupy (indices int64, scores float32)."""
    import cupy

    q = cupy.ascontiguousarray(cupy.asarray(queries, dtype=cupy.float32))
    m = cupy.ascontiguousarray(cupy.asarray(memory, dtype=cupy.float32))
    _check_inputs(q, m, k)
    nq, dim = q.shape
    nm = m.shape[0]
    idx = cupy.full((nq, k), -1, dtype=cupy.int64)
    val = cupy.full((nq, k), -cupy.inf, dtype=cupy.float32)
    if k == 0 or nq == 0 or nm == 0:
        return idx, val
    qn = _normalize_cuda(q)
    mn = _normalize_cuda(m)
    scores_kernel = get_kernel("similarity", "cosine_scores")
    topk_kernel = get_kernel("similarity", "topk_rows")
    step = max(1, min(_SCORE_ELEMS // nm, 65535 * TILE))
    for a in range(0, nq, step):
        qb = qn[a : a + step]
        nb = qb.shape[0]
        scores = cupy.empty((nb, nm), dtype=cupy.float32)
        grid = ((nm + TILE - 1) // TILE, (nb + TILE - 1) // TILE)
        scores_kernel(grid, (TILE, TILE), (qb, mn, scores, np.int32(nb), np.int32(nm), np.int32(dim)))
        if k <= TOPK_KMAX:
            bi = cupy.empty((nb, k), dtype=cupy.int64)
            bv = cupy.empty((nb, k), dtype=cupy.float32)
            topk_kernel((nb,), (TOPK_THREADS,), (scores, np.int32(nm), np.int32(k), bi, bv))
        else:
            bi, bv = _topk_sorted_cuda(scores, k)
        idx[a : a + nb] = bi
        val[a : a + nb] = bv
    return idx, val


def cosine_topk(
    queries: NDArray[Any],
    memory: NDArray[Any],
    k: int,
    backend: BackendName | None = None,
) -> TopK:
    """Top-k memory rows per query by cosine similarity: (indices int64, scores float32), each (Q, k)."""
    q = np.asarray(queries, dtype=np.float32)
    m = np.asarray(memory, dtype=np.float32)
    _check_inputs(q, m, k)
    if resolve_backend(backend, "cosine_topk") == "cuda":
        import cupy

        gi, gv = cosine_topk_cuda(q, m, k)
        return np.asarray(cupy.asnumpy(gi), dtype=np.int64), np.asarray(cupy.asnumpy(gv), dtype=np.float32)
    return cosine_topk_reference(q, m, k)
