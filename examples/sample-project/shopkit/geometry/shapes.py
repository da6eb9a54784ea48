"""Simple shapes: rectangles and circles."""

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float

    def area(self) -> float:
        return self.width * self.height

    def perimeter(self) -> float:
        return 2 * (self.width + self.height)

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px <= self.x + self.width and self.y <= py <= self.y + self.height

    def overlaps(self, other: "Rect") -> bool:
        return not (
            other.x >= self.x + self.width
            or other.x + other.width <= self.x
            or other.y >= self.y + self.height
            or other.y + other.height <= self.y
        )

    def scale(self, factor: float) -> None:
        self.width *= factor
        self.height *= factor


@dataclass
class Circle:
    cx: float
    cy: float
    radius: float

    def area(self) -> float:
        return math.pi * self.radius**2

    def circumference(self) -> float:
        return 2 * math.pi * self.radius

    def contains(self, px: float, py: float) -> bool:
        return math.hypot(px - self.cx, py - self.cy) <= self.radius


def intersection_area(a: Tuple[float, float, float, float], b: Tuple[float, float, float, float]) -> float:
    """Overlap of two (x, y, w, h) rectangles."""
    left = max(a[0], b[0])
    right = min(a[0] + a[2], b[0] + b[2])
    bottom = max(a[1], b[1])
    top = min(a[1] + a[3], b[1] + b[3])
    if right <= left or top <= bottom:
        return 0.0
    return (right - left) * (top - bottom)


def largest_rect(rects: List[Tuple[float, float, float, float]]) -> Optional[int]:
    """Index of the rectangle with the largest area, first one on ties."""
    best: Optional[int] = None
    best_area = -1.0
    for i, r in enumerate(rects):
        area = r[2] * r[3]
        if area > best_area:
            best_area = area
            best = i
    return best


def fits_in_box(item: Tuple[float, float, float], box: Tuple[float, float, float]) -> bool:
    """Whether an item fits a box in some axis-aligned orientation."""
    a = sorted([item[0], item[1], item[2]])
    b = sorted([box[0], box[1], box[2]])
    return all(x <= y for x, y in zip(a, b))


def pack_shelf(widths: List[float], shelf_width: float) -> List[List[int]]:
    """First-fit-decreasing: indices of the items on each shelf."""
    order = sorted(range(len(widths)), key=lambda i: (-widths[i], i))
    shelves: List[List[int]] = []
    remaining: List[float] = []
    for i in order:
        if widths[i] > shelf_width:
            raise ValueError("item wider than the shelf")
        placed = False
        for s in range(len(shelves)):
            if widths[i] <= remaining[s]:
                shelves[s].append(i)
                remaining[s] -= widths[i]
                placed = True
                break
        if not placed:
            shelves.append([i])
            remaining.append(shelf_width - widths[i])
    return shelves
