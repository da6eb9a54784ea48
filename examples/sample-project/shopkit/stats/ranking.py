"""Rankings, top-k and ordering utilities."""

from typing import Dict, List, Optional, Tuple


def rank_dense(scores: Dict[str, int]) -> Dict[str, int]:
    """Dense ranks: the highest score is rank 1, equal scores share a rank."""
    distinct = sorted(set(scores.values()), reverse=True)
    position = {score: i + 1 for i, score in enumerate(distinct)}
    return {name: position[score] for name, score in scores.items()}


def rank_competition(scores: List[Tuple[str, int]]) -> List[Tuple[str, int]]:
    """"1224" ranking, highest first, names alphabetical within a score."""
    ordered = sorted(scores, key=lambda s: (-s[1], s[0]))
    out: List[Tuple[str, int]] = []
    for i, (name, score) in enumerate(ordered):
        if i > 0 and score == ordered[i - 1][1]:
            out.append((name, out[-1][1]))
        else:
            out.append((name, i + 1))
    return out


def top_k(sales: Dict[str, float], k: int) -> List[str]:
    return [sku for sku, _ in sorted(sales.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def merge_sort(values: List[int]) -> List[int]:
    """Recursive merge sort."""
    if len(values) <= 1:
        return values
    mid = len(values) // 2
    left = merge_sort(values[:mid])
    right = merge_sort(values[mid:])
    merged: List[int] = []
    i = 0
    j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]


def quickselect(values: List[int], k: int) -> int:
    """The k-th smallest (0-based) value, recursively."""
    if not 0 <= k < len(values):
        raise IndexError("k out of range")
    pivot = values[len(values) // 2]
    lows = [v for v in values if v < pivot]
    highs = [v for v in values if v > pivot]
    pivots = len(values) - len(lows) - len(highs)
    if k < len(lows):
        return quickselect(lows, k)
    if k < len(lows) + pivots:
        return pivot
    return quickselect(highs, k - len(lows) - pivots)


def binary_search(sorted_values: List[int], target: int) -> Optional[int]:
    lo, hi = 0, len(sorted_values) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if sorted_values[mid] == target:
            return mid
        if sorted_values[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return None


def inversions(values: List[int]) -> int:
    """Number of pairs out of order (quadratic; fine for short lists)."""
    count = 0
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            if values[i] > values[j]:
                count += 1
    return count


class Leaderboard:
    """Best score per player."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.best: Dict[str, int] = {}

    def submit(self, player: str, score: int) -> bool:
        """Record a score; True when it is the player's new best."""
        if player in self.best and self.best[player] >= score:
            return False
        self.best[player] = score
        return True

    def top(self, n: int) -> List[Tuple[str, int]]:
        return sorted(self.best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def position(self, player: str) -> Optional[int]:
        if player not in self.best:
            return None
        mine = self.best[player]
        return 1 + sum(1 for s in self.best.values() if s > mine)
