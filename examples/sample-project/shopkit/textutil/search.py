"""Fuzzy product search: edit distance, prefixes and highlighting."""

from typing import Dict, List, Optional, Tuple


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit costs, two-row dynamic programming."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        previous = current
    return previous[len(b)]


def closest_match(query: str, names: List[str], max_distance: int) -> Optional[str]:
    """The name with the smallest edit distance to the query (case-insensitive), if close enough."""
    best: Optional[str] = None
    best_d = max_distance + 1
    q = query.lower()
    for name in sorted(names):
        n = name.lower()
        prev = list(range(len(n) + 1))
        for i in range(1, len(q) + 1):
            cur = [i] + [0] * len(n)
            for j in range(1, len(n) + 1):
                cost = 0 if q[i - 1] == n[j - 1] else 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            prev = cur
        if prev[len(n)] < best_d:
            best_d = prev[len(n)]
            best = name
    return best


def longest_common_prefix(words: List[str]) -> str:
    if not words:
        return ""
    prefix = words[0]
    for w in words[1:]:
        while not w.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def prefix_index(names: List[str], length: int) -> Dict[str, List[str]]:
    """Names grouped by their lower-cased first `length` characters."""
    index: Dict[str, List[str]] = {}
    for name in names:
        key = name.lower()[:length]
        if key not in index:
            index[key] = []
        index[key].append(name)
    return index


def highlight(text: str, term: str) -> str:
    """Wrap every case-insensitive occurrence of `term` in square brackets."""
    if not term:
        return text
    lower = text.lower()
    t = term.lower()
    out = ""
    i = 0
    while i < len(text):
        if lower[i : i + len(t)] == t:
            out += "[" + text[i : i + len(t)] + "]"
            i += len(t)
        else:
            out += text[i]
            i += 1
    return out


def score_results(query: str, names: List[str]) -> List[Tuple[str, int]]:
    """Score: 3 for an exact match, 2 for a prefix, 1 for a substring; best first, then by name."""
    q = query.lower()
    scored: List[Tuple[str, int]] = []
    for name in names:
        n = name.lower()
        if n == q:
            scored.append((name, 3))
        elif n.startswith(q):
            scored.append((name, 2))
        elif q in n:
            scored.append((name, 1))
    return sorted(scored, key=lambda s: (-s[1], s[0]))


def is_palindrome(text: str) -> bool:
    cleaned = [ch.lower() for ch in text if ch.isalnum()]
    return cleaned == cleaned[::-1]
