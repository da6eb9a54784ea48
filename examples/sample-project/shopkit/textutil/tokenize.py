"""Word and number tokenising, n-grams and word counts."""

from typing import Dict, List, Set, Tuple


def words(text: str) -> List[str]:
    """Lower-case runs of letters and apostrophes."""
    out: List[str] = []
    current = ""
    for ch in text.lower():
        if ch.isalpha() or (ch == "'" and current != ""):
            current += ch
        else:
            if current:
                out.append(current.strip("'"))
            current = ""
    if current:
        out.append(current.strip("'"))
    return [w for w in out if w]


def numbers(text: str) -> List[int]:
    """All non-negative integers written in the text."""
    out: List[int] = []
    digits = ""
    for ch in text + " ":
        if ch.isdigit():
            digits += ch
        elif digits:
            out.append(int(digits))
            digits = ""
    return out


def word_counts(text: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for w in text.lower().split():
        w = w.strip(".,;:!?\"()")
        if w:
            counts[w] = counts.get(w, 0) + 1
    return counts


def top_words(text: str, n: int) -> List[Tuple[str, int]]:
    """The n most frequent words, ties alphabetical."""
    counts: Dict[str, int] = {}
    for w in text.lower().split():
        w = w.strip(".,;:!?\"()")
        if w:
            counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def bigrams(tokens: List[str]) -> List[Tuple[str, str]]:
    return [(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1)]


def char_ngrams(text: str, n: int) -> Set[str]:
    if n <= 0:
        raise ValueError("n must be positive")
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word sets."""
    sa = set(a.lower().split())
    sb = set(b.lower().split())
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def split_sentences(text: str) -> List[str]:
    """Split after `.`, `!` or `?` followed by a space; strip each sentence."""
    out: List[str] = []
    start = 0
    for i in range(len(text)):
        if text[i] in ".!?" and (i + 1 == len(text) or text[i + 1] == " "):
            sentence = text[start : i + 1].strip()
            if sentence:
                out.append(sentence)
            start = i + 1
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out
