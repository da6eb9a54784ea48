"""Polygons: area, perimeter, point-in-polygon and convex hulls."""

import math
from typing import List, Tuple


def shoelace_area(vertices: List[Tuple[float, float]]) -> float:
    """Unsigned area of a simple polygon."""
    n = len(vertices)
    if n < 3:
        return 0.0
    s = 0.0
    for i in range(n):
        x1, y1 = vertices[i]
        x2, y2 = vertices[(i + 1) % n]
        s += x1 * y2 - x2 * y1
    return abs(s) / 2.0


def perimeter(vertices: List[Tuple[float, float]]) -> float:
    n = len(vertices)
    total = 0.0
    for i in range(n):
        x1, y1 = vertices[i]
        x2, y2 = vertices[(i + 1) % n]
        total += math.hypot(x2 - x1, y2 - y1)
    return total


def is_clockwise(vertices: List[Tuple[float, float]]) -> bool:
    s = 0.0
    n = len(vertices)
    for i in range(n):
        x1, y1 = vertices[i]
        x2, y2 = vertices[(i + 1) % n]
        s += (x2 - x1) * (y2 + y1)
    return s > 0


def point_in_polygon(px: float, py: float, vertices: List[Tuple[float, float]]) -> bool:
    """Ray casting; points on an edge may go either way."""
    inside = False
    n = len(vertices)
    j = n - 1
    for i in range(n):
        xi, yi = vertices[i]
        xj, yj = vertices[j]
        if (yi > py) != (yj > py):
            x_cross = (xj - xi) * (py - yi) / (yj - yi) + xi
            if px < x_cross:
                inside = not inside
        j = i
    return inside


def convex_hull(points: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Andrew's monotone chain; counter-clockwise, starting from the lowest-leftmost point."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower: List[Tuple[int, int]] = []
    for p in pts:
        while len(lower) >= 2:
            o, a = lower[-2], lower[-1]
            if (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]) <= 0:
                lower.pop()
            else:
                break
        lower.append(p)
    upper: List[Tuple[int, int]] = []
    for p in reversed(pts):
        while len(upper) >= 2:
            o, a = upper[-2], upper[-1]
            if (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]) <= 0:
                upper.pop()
            else:
                break
        upper.append(p)
    return lower[:-1] + upper[:-1]


def regular_polygon(sides: int, radius: float) -> List[Tuple[float, float]]:
    if sides < 3:
        raise ValueError("a polygon needs at least three sides")
    step = 2 * math.pi / sides
    return [(round(radius * math.cos(i * step), 6), round(radius * math.sin(i * step), 6)) for i in range(sides)]


def edge_lengths(vertices: List[Tuple[int, int]]) -> List[int]:
    """Squared edge lengths of an integer polygon (exact)."""
    n = len(vertices)
    out: List[int] = []
    for i in range(n):
        dx = vertices[(i + 1) % n][0] - vertices[i][0]
        dy = vertices[(i + 1) % n][1] - vertices[i][1]
        out.append(dx * dx + dy * dy)
    return out
