"""Line wrapping, padding and tables."""

from typing import List


def wrap(text: str, width: int) -> List[str]:
    """Greedy word wrap; a word longer than the width gets a line of its own."""
    if width <= 0:
        raise ValueError("width must be positive")
    lines: List[str] = []
    current = ""
    for word in text.split():
        if current == "":
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = current + " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def pad_right(text: str, width: int, fill: str) -> str:
    if len(text) >= width:
        return text
    return text + fill * (width - len(text))


def pad_left(text: str, width: int, fill: str) -> str:
    if len(text) >= width:
        return text
    return fill * (width - len(text)) + text


def center(text: str, width: int) -> str:
    """Center with spaces; the extra space goes to the right."""
    gap = width - len(text)
    if gap <= 0:
        return text
    left = gap // 2
    return " " * left + text + " " * (gap - left)


def truncate(text: str, limit: int, ellipsis: str) -> str:
    if len(text) <= limit:
        return text
    keep = limit - len(ellipsis)
    if keep <= 0:
        return ellipsis[:limit]
    return text[:keep].rstrip() + ellipsis


def render_table(rows: List[List[str]]) -> List[str]:
    """Left-aligned columns separated by ` | `, each as wide as its widest cell."""
    if not rows:
        return []
    columns = max(len(r) for r in rows)
    widths = [0] * columns
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    out: List[str] = []
    for row in rows:
        cells: List[str] = []
        for i in range(columns):
            cell = row[i] if i < len(row) else ""
            cells.append(cell + " " * (widths[i] - len(cell)))
        out.append(" | ".join(cells).rstrip())
    return out


def indent_block(lines: List[str], spaces: int) -> List[str]:
    prefix = " " * spaces
    return [prefix + line if line.strip() else "" for line in lines]


def dedent_block(lines: List[str]) -> List[str]:
    """Remove the common leading whitespace of the non-blank lines."""
    margins = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    if not margins:
        return [line.strip() for line in lines]
    cut = min(margins)
    return [line[cut:] if line.strip() else "" for line in lines]
