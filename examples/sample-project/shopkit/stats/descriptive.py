"""Descriptive statistics."""

import math
from typing import Dict, List, Optional, Tuple


def mean(values: List[float]) -> float:
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def median(values: List[float]) -> float:
    if not values:
        raise ValueError("median of an empty list")
    s = sorted(values)
    mid = len(s) // 2
    if len(s) % 2 == 1:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2.0


def mode(values: List[int]) -> Optional[int]:
    """The most common value, the smallest one on ties; None for an empty list."""
    if not values:
        return None
    counts: Dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def variance(values: List[float], sample: bool) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    ss = sum((v - m) ** 2 for v in values)
    return ss / (n - 1) if sample else ss / n


def stddev(values: List[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def percentile(values: List[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of an empty list")
    if not 0.0 <= p <= 100.0:
        raise ValueError("p must be within 0..100")
    s = sorted(values)
    rank = (len(s) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return s[lo]
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def summary(values: List[float]) -> Tuple[float, float, float, float]:
    """(min, max, mean, median)."""
    if not values:
        raise ValueError("summary of an empty list")
    s = sorted(values)
    n = len(s)
    med = s[n // 2] if n % 2 == 1 else (s[n // 2 - 1] + s[n // 2]) / 2.0
    return (s[0], s[-1], sum(s) / n, med)


def correlation(xs: List[float], ys: List[float]) -> Optional[float]:
    """Pearson's r; None when either series is constant."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need two equally long series of two or more values")
    n = len(xs)
    mx = sum(xs) / n
    my = sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def zscores(values: List[float]) -> List[float]:
    n = len(values)
    if n < 2:
        return [0.0] * n
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    if sd == 0:
        return [0.0] * n
    return [round((v - m) / sd, 4) for v in values]
