"""URL slugs and safe file names."""

from typing import List, Set


def slugify(title: str) -> str:
    """Lower-case ASCII letters and digits joined by single dashes."""
    out = ""
    dash = False
    for ch in title.lower():
        if ("a" <= ch <= "z") or ch.isdigit():
            out += ch
            dash = False
        elif not dash and out:
            out += "-"
            dash = True
    return out.rstrip("-")


def unique_slug(base: str, taken: Set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is free first."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def safe_filename(name: str, max_length: int) -> str:
    """Replace path separators and control characters, keep the extension when truncating."""
    cleaned = "".join("_" if ch in "/\\:*?\"<>|" or ord(ch) < 32 else ch for ch in name).strip(". ")
    if cleaned == "":
        cleaned = "unnamed"
    if len(cleaned) <= max_length:
        return cleaned
    dot = cleaned.rfind(".")
    if dot <= 0 or len(cleaned) - dot > 8:
        return cleaned[:max_length]
    ext = cleaned[dot:]
    return cleaned[: max_length - len(ext)] + ext


def path_segments(path: str) -> List[str]:
    """Normalise `a//b/./c/../d/` to its segments ['a', 'b', 'd']."""
    out: List[str] = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return out


def breadcrumb(path: str) -> str:
    """`shop/garden/tools` -> `Shop > Garden > Tools`."""
    parts = [p.replace("-", " ").capitalize() for p in path.split("/") if p]
    return " > ".join(parts)
