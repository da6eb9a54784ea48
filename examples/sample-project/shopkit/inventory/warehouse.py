"""Warehouse bins: addressing, capacity and pick paths."""

from typing import Dict, List, Optional, Set, Tuple


class Bin:
    """A storage bin with a capacity in units."""

    def __init__(self, aisle: int, shelf: int, capacity: int) -> None:
        self.aisle = aisle
        self.shelf = shelf
        self.capacity = capacity
        self.contents: Dict[str, int] = {}

    def address(self) -> str:
        return "A" + str(self.aisle).zfill(2) + "-S" + str(self.shelf).zfill(2)

    def used(self) -> int:
        return sum(self.contents.values())

    def free(self) -> int:
        return self.capacity - self.used()

    def put(self, sku: str, quantity: int) -> int:
        """Store as much as fits; returns the quantity that did not fit."""
        fits = min(quantity, self.free())
        if fits > 0:
            self.contents[sku] = self.contents.get(sku, 0) + fits
        return quantity - fits

    def take(self, sku: str, quantity: int) -> int:
        """Remove up to `quantity`; returns how many were taken."""
        present = self.contents.get(sku, 0)
        taken = min(present, quantity)
        if taken == present:
            if sku in self.contents:
                del self.contents[sku]
        else:
            self.contents[sku] = present - taken
        return taken


def parse_bin_address(address: str) -> Optional[Tuple[int, int]]:
    """`A03-S12` -> (3, 12); None when the address is malformed."""
    parts = address.split("-")
    if len(parts) != 2:
        return None
    aisle, shelf = parts[0], parts[1]
    if not aisle.startswith("A") or not shelf.startswith("S"):
        return None
    if not aisle[1:].isdigit() or not shelf[1:].isdigit():
        return None
    return (int(aisle[1:]), int(shelf[1:]))


def pick_path(locations: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Serpentine order: odd aisles walked up, even aisles walked down."""
    by_aisle: Dict[int, List[int]] = {}
    for aisle, shelf in locations:
        if aisle not in by_aisle:
            by_aisle[aisle] = []
        by_aisle[aisle].append(shelf)
    path: List[Tuple[int, int]] = []
    for aisle in sorted(by_aisle.keys()):
        shelves = sorted(set(by_aisle[aisle]), reverse=aisle % 2 == 0)
        for shelf in shelves:
            path.append((aisle, shelf))
    return path


def path_length(path: List[Tuple[int, int]]) -> int:
    """Manhattan length of a pick path, aisles being 10 units apart."""
    total = 0
    for i in range(1, len(path)):
        a1, s1 = path[i - 1]
        a2, s2 = path[i]
        total += abs(a1 - a2) * 10 + abs(s1 - s2)
    return total


def busiest_aisles(picks: List[Tuple[int, int]], top: int) -> List[int]:
    """The `top` aisles with most picks, most first, ties by aisle number."""
    counts: Dict[int, int] = {}
    for aisle, _shelf in picks:
        counts[aisle] = counts.get(aisle, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [aisle for aisle, _count in ranked[:top]]


def empty_shelves(occupied: Set[Tuple[int, int]], aisles: int, shelves: int) -> int:
    """Count the free (aisle, shelf) positions in a grid of the given size."""
    free = 0
    for aisle in range(1, aisles + 1):
        for shelf in range(1, shelves + 1):
            if (aisle, shelf) not in occupied:
                free += 1
    return free
