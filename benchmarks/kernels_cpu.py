"""NumPy (CPU fallback) throughput of the portalis_kernels paths on a synthetic Python corpus.

Run: .venv/bin/python benchmarks/kernels_cpu.py   (writes benchmarks/results/kernels_cpu.json)
     .venv/bin/python benchmarks/kernels_cpu.py --smoke [--out FILE]   (40 units, one repeat)
Each figure is the best of a few repeats on this (shared, noisy) machine; the scalar pure-Python
definitions are measured in the same run on a small sample as the "compared_with" baseline.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from reporting import add_arguments, record, write

from portalis_kernels.featurize import FeatureConfig, featurize_reference
from portalis_kernels.hashing import fmix32_scalar, fnv1a32
from portalis_kernels.minhash import MinHashConfig, minhash_reference, minhash_seeds
from portalis_kernels.neardup import near_duplicate_groups
from portalis_kernels.packing import PackedUnits, pack_units
from portalis_kernels.similarity import cosine_topk_reference, topk_from_scores

NAME = "kernels_cpu"
SMOKE_UNITS = 40
_WORDS = [
    "def",
    "class",
    "return",
    "self",
    "if",
    "elif",
    "else",
    "for",
    "while",
    "in",
    "range",
    "import",
    "from",
    "as",
    "with",
    "try",
    "except",
    "raise",
    "yield",
    "lambda",
    "None",
    "True",
    "False",
    "print",
    "len",
    "append",
    "items",
    "keys",
    "values",
    "dict",
    "list",
    "str",
    "int",
]
_PUNCT = ["(", ")", ":", ",", ".", "=", "+", "[", "]", "\n    ", "\n", "\n        "]


def synthetic_corpus(num_units: int, mean_len: int = 1500, seed: int = 0) -> list[bytes]:
    """Python-looking units with lognormal lengths; every tenth is a lightly edited copy of another."""
    rng = np.random.default_rng(seed)
    vocab = np.array(_WORDS + _PUNCT + [f"name_{i}" for i in range(200)])
    units: list[bytes] = []
    for i in range(num_units):
        if i % 10 == 9 and units:
            src = units[int(rng.integers(len(units)))]
            cut = int(rng.integers(len(src) + 1))
            units.append(src[:cut] + b" # edited\n" + src[cut:])
            continue
        n_tokens = max(1, int(rng.lognormal(np.log(mean_len / 5), 0.6)))
        units.append(" ".join(rng.choice(vocab, size=n_tokens).tolist()).encode())
    return units


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest wall time of ``repeats`` runs (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _python_featurize(units: list[bytes], dim: int) -> None:
    for unit in units:
        row = [0] * dim
        for p in range(len(unit)):
            for n in (1, 2, 3):
                if p + n <= len(unit):
                    row[fnv1a32(unit[p : p + n]) % dim] += 1


def _python_minhash(units: list[bytes], config: MinHashConfig) -> None:
    seeds = [int(s) for s in minhash_seeds(config.num_perm, config.seed)]
    for unit in units:
        xs = {fnv1a32(unit[p : p + config.shingle]) for p in range(len(unit) - config.shingle + 1)}
        [min(fmix32_scalar(x ^ s) for x in xs) for s in seeds]


def run(num_units: int, repeats: int) -> list[dict[str, Any]]:
    units = synthetic_corpus(num_units)
    packed: PackedUnits = pack_units(units)
    mb = packed.data.size / 1e6
    out: list[dict[str, Any]] = []
    sample = units[:8]
    sample_n = len(sample)

    fcfg = FeatureConfig()
    t = best_of(lambda: featurize_reference(packed, fcfg), repeats)
    t_py = best_of(lambda: _python_featurize(sample, fcfg.dim), 1) / sample_n
    out += [
        record("featurize_numpy_units_per_s", num_units / t, "units/s", "featurize_python_units_per_s"),
        record("featurize_numpy_mb_per_s", mb / t, "MB/s", "input bytes, dim 1024, n-grams 1..3"),
        record("featurize_python_units_per_s", 1 / t_py, "units/s", "scalar definition, 8-unit sample"),
    ]

    mcfg = MinHashConfig()
    t = best_of(lambda: minhash_reference(packed, mcfg), repeats)
    t_py = best_of(lambda: _python_minhash(sample[:2], mcfg), 1) / 2
    out += [
        record("minhash_numpy_units_per_s", num_units / t, "units/s", "minhash_python_units_per_s"),
        record("minhash_numpy_mb_per_s", mb / t, "MB/s", "input bytes, K 128, shingle 5"),
        record("minhash_python_units_per_s", 1 / t_py, "units/s", "scalar definition, 2-unit sample"),
    ]

    memory = featurize_reference(packed, fcfg)
    queries = memory[:256]
    k = 10
    t = best_of(lambda: cosine_topk_reference(queries, memory, k), repeats)

    def full_sort() -> None:
        scores = (queries @ memory.T).astype(np.float32)
        np.argsort(-scores, axis=1, kind="stable")[:, :k]

    t_sort = best_of(full_sort, repeats)
    t_sel = best_of(lambda: topk_from_scores((queries @ memory.T).astype(np.float32), k), repeats)
    out += [
        record(
            "cosine_topk_numpy_queries_per_s",
            queries.shape[0] / t,
            "queries/s",
            f"M={memory.shape[0]}, D=1024, k={k}, float64 scores; vs cosine_topk_fullsort_queries_per_s",
        ),
        record(
            "cosine_topk_select_numpy_queries_per_s",
            queries.shape[0] / t_sel,
            "queries/s",
            "tie-exact partition select on float32 BLAS scores",
        ),
        record(
            "cosine_topk_fullsort_queries_per_s",
            queries.shape[0] / t_sort,
            "queries/s",
            "float32 BLAS scores + full stable argsort (baseline)",
        ),
    ]

    t = best_of(lambda: near_duplicate_groups(units, backend="numpy"), repeats)
    out.append(
        record("near_duplicate_groups_numpy_units_per_s", num_units / t, "units/s", "MinHash + LSH 32x4")
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    add_arguments(parser, NAME)
    args = parser.parse_args()
    if args.smoke:
        args.units, args.repeats = SMOKE_UNITS, 1
    results = run(args.units, args.repeats)
    write(NAME, results, args.out, args.smoke)
    print(f"# {platform.processor() or platform.machine()}, {args.units} units")
    for r in results:
        print(f"{r['metric']:45s} {r['value']:>14,.1f} {r['unit']:10s} ({r['compared_with']})")


if __name__ == "__main__":
    main()
