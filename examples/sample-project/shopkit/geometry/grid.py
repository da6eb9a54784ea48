"""Grid maps of a shop floor: flood fill, shortest paths, neighbours."""

from typing import Dict, List, Optional, Set, Tuple


def parse_grid(rows: List[str]) -> Set[Tuple[int, int]]:
    """Blocked cells (`#`) as (row, col) pairs."""
    blocked: Set[Tuple[int, int]] = set()
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch == "#":
                blocked.add((r, c))
    return blocked


def neighbours(r: int, c: int, rows: int, cols: int) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for dr, dc in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
        nr, nc = r + dr, c + dc
        if 0 <= nr < rows and 0 <= nc < cols:
            out.append((nr, nc))
    return out


def shortest_path_length(rows: List[str], start: Tuple[int, int], goal: Tuple[int, int]) -> Optional[int]:
    """Breadth-first search over `.` cells; None when unreachable."""
    height = len(rows)
    width = len(rows[0]) if rows else 0
    if rows[start[0]][start[1]] == "#" or rows[goal[0]][goal[1]] == "#":
        return None
    seen: Set[Tuple[int, int]] = {start}
    frontier: List[Tuple[int, int]] = [start]
    steps = 0
    while frontier:
        if goal in frontier:
            return steps
        following: List[Tuple[int, int]] = []
        for r, c in frontier:
            for dr, dc in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
                nr, nc = r + dr, c + dc
                if 0 <= nr < height and 0 <= nc < width and rows[nr][nc] != "#" and (nr, nc) not in seen:
                    seen.add((nr, nc))
                    following.append((nr, nc))
        frontier = following
        steps += 1
    return None


def flood_fill_size(rows: List[str], r: int, c: int) -> int:
    """Size of the open region containing (r, c), iteratively."""
    if rows[r][c] == "#":
        return 0
    seen: Set[Tuple[int, int]] = set()
    stack: List[Tuple[int, int]] = [(r, c)]
    while stack:
        cr, cc = stack.pop()
        if (cr, cc) in seen:
            continue
        seen.add((cr, cc))
        for nr, nc in [(cr - 1, cc), (cr + 1, cc), (cr, cc - 1), (cr, cc + 1)]:
            if 0 <= nr < len(rows) and 0 <= nc < len(rows[nr]) and rows[nr][nc] != "#":
                stack.append((nr, nc))
    return len(seen)


def count_regions(rows: List[str]) -> int:
    """Number of separate open regions."""
    seen: Set[Tuple[int, int]] = set()
    regions = 0
    for r in range(len(rows)):
        for c in range(len(rows[r])):
            if rows[r][c] == "#" or (r, c) in seen:
                continue
            regions += 1
            stack = [(r, c)]
            while stack:
                cr, cc = stack.pop()
                if (cr, cc) in seen:
                    continue
                seen.add((cr, cc))
                for nr, nc in [(cr - 1, cc), (cr + 1, cc), (cr, cc - 1), (cr, cc + 1)]:
                    if 0 <= nr < len(rows) and 0 <= nc < len(rows[nr]) and rows[nr][nc] != "#":
                        stack.append((nr, nc))
    return regions


def unique_paths(rows: int, cols: int, blocked: Set[Tuple[int, int]]) -> int:
    """Monotone (right/down) paths from the top-left to the bottom-right corner."""
    ways: Dict[Tuple[int, int], int] = {}
    for r in range(rows):
        for c in range(cols):
            if (r, c) in blocked:
                ways[(r, c)] = 0
            elif r == 0 and c == 0:
                ways[(r, c)] = 1
            else:
                ways[(r, c)] = ways.get((r - 1, c), 0) + ways.get((r, c - 1), 0)
    return ways.get((rows - 1, cols - 1), 0)


def render(rows: int, cols: int, marks: Dict[Tuple[int, int], str]) -> List[str]:
    return ["".join(marks.get((r, c), ".") for c in range(cols)) for r in range(rows)]
