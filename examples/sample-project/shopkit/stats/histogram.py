"""Histograms and bucketing."""

from typing import Dict, List, Tuple


def bucket_counts(values: List[float], edges: List[float]) -> List[int]:
    """Counts per half-open bucket [edges[i], edges[i+1]); the last bucket is closed."""
    if len(edges) < 2:
        raise ValueError("need at least two edges")
    counts = [0] * (len(edges) - 1)
    for v in values:
        for i in range(len(edges) - 1):
            last = i == len(edges) - 2
            if edges[i] <= v < edges[i + 1] or (last and v == edges[i + 1]):
                counts[i] += 1
                break
    return counts


def equal_width_edges(low: float, high: float, buckets: int) -> List[float]:
    if buckets <= 0 or high <= low:
        raise ValueError("bad bucket specification")
    width = (high - low) / buckets
    return [round(low + i * width, 6) for i in range(buckets + 1)]


def ascii_histogram(counts: Dict[str, int], width: int) -> List[str]:
    """One bar per label (sorted), scaled so the largest count is `width` characters."""
    if not counts:
        return []
    label_width = max(len(k) for k in counts)
    peak = max(counts.values())
    out: List[str] = []
    for label in sorted(counts):
        n = counts[label]
        bar = "#" * (n * width // peak if peak > 0 else 0)
        out.append(f"{label}{' ' * (label_width - len(label))} | {bar} {n}")
    return out


def frequency_table(values: List[int]) -> List[Tuple[int, int, float]]:
    """(value, count, cumulative percent) sorted by value."""
    counts: Dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    total = len(values)
    out: List[Tuple[int, int, float]] = []
    running = 0
    for v in sorted(counts):
        running += counts[v]
        out.append((v, counts[v], round(100.0 * running / total, 1)))
    return out


def price_band(price: float) -> str:
    if price < 5:
        return "budget"
    if price < 20:
        return "standard"
    if price < 100:
        return "premium"
    return "luxury"


def band_counts(prices: List[float]) -> Dict[str, int]:
    out: Dict[str, int] = {"budget": 0, "standard": 0, "premium": 0, "luxury": 0}
    for p in prices:
        band = "budget" if p < 5 else "standard" if p < 20 else "premium" if p < 100 else "luxury"
        out[band] += 1
    return out
