"""Identifier case conversion."""

from typing import List


def snake_to_camel(name: str) -> str:
    """`order_line_total` -> `orderLineTotal`."""
    parts = [p for p in name.split("_") if p]
    if not parts:
        return ""
    return parts[0].lower() + "".join(p.capitalize() for p in parts[1:])


def snake_to_pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_") if p)


def camel_to_snake(name: str) -> str:
    """`orderLineHTTPTotal` -> `order_line_http_total`."""
    out = ""
    n = len(name)
    for i in range(n):
        ch = name[i]
        if ch.isupper():
            prev_lower = i > 0 and name[i - 1].islower()
            next_lower = i + 1 < n and name[i + 1].islower()
            if i > 0 and (prev_lower or (next_lower and name[i - 1].isupper())):
                out += "_"
            out += ch.lower()
        else:
            out += ch
    return out


def kebab_case(words: List[str]) -> str:
    return "-".join(w.strip().lower() for w in words if w.strip())


def title_case(text: str, small_words: List[str]) -> str:
    """Capitalise every word except the small words, which stay lower case unless first or last."""
    words = text.split()
    out: List[str] = []
    for i, word in enumerate(words):
        lower = word.lower()
        if 0 < i < len(words) - 1 and lower in small_words:
            out.append(lower)
        else:
            out.append(lower.capitalize())
    return " ".join(out)


def alternate_case(text: str) -> str:
    """Upper-case every other letter, skipping non-letters in the count."""
    out = ""
    upper = True
    for ch in text:
        if ch.isalpha():
            out += ch.upper() if upper else ch.lower()
            upper = not upper
        else:
            out += ch
    return out


def is_constant_name(name: str) -> bool:
    """UPPER_SNAKE_CASE, starting with a letter, no double underscores."""
    if not name or not name[0].isalpha():
        return False
    if "__" in name or name.endswith("_"):
        return False
    return all(ch.isupper() or ch.isdigit() or ch == "_" for ch in name)
