"""Points and vectors in the plane."""

import math
from typing import List, Optional, Tuple


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y

    def distance_to(self, other: "Point") -> float:
        return math.hypot(self.x - other.x, self.y - other.y)

    def manhattan_to(self, other: "Point") -> float:
        return abs(self.x - other.x) + abs(self.y - other.y)

    def translate(self, dx: float, dy: float) -> None:
        self.x += dx
        self.y += dy

    def rotate_quarter(self) -> None:
        """Rotate 90 degrees counter-clockwise about the origin."""
        self.x, self.y = -self.y, self.x

    def as_tuple(self) -> Tuple[float, float]:
        return (self.x, self.y)


def centroid(points: List[Tuple[float, float]]) -> Optional[Tuple[float, float]]:
    if not points:
        return None
    n = len(points)
    return (sum(p[0] for p in points) / n, sum(p[1] for p in points) / n)


def closest_pair(points: List[Tuple[float, float]]) -> Tuple[int, int]:
    """Indices of the two closest points (brute force; first pair wins ties)."""
    if len(points) < 2:
        raise ValueError("need at least two points")
    best = (0, 1)
    best_d = math.inf
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            d = math.hypot(points[i][0] - points[j][0], points[i][1] - points[j][1])
            if d < best_d:
                best_d = d
                best = (i, j)
    return best


def nearest(origin: Tuple[float, float], candidates: List[Tuple[float, float]]) -> Optional[int]:
    if not candidates:
        return None
    distances = [math.hypot(c[0] - origin[0], c[1] - origin[1]) for c in candidates]
    return min(range(len(candidates)), key=lambda i: distances[i])


def bounding_box(points: List[Tuple[float, float]]) -> Tuple[float, float, float, float]:
    """(min_x, min_y, max_x, max_y)."""
    if not points:
        raise ValueError("no points")
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def angle_degrees(dx: float, dy: float) -> float:
    """Direction of a vector in degrees, 0..360."""
    a = math.atan2(dy, dx) * 180.0 / math.pi
    return a + 360.0 if a < 0 else a


def cross(o: Tuple[float, float], a: Tuple[float, float], b: Tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def path_distance(points: List[Tuple[float, float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        total += math.hypot(x2 - x1, y2 - y1)
    return total
