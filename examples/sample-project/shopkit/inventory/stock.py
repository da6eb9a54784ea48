"""Stock levels and movements."""

from typing import Dict, List, Optional, Tuple


class StockBook:
    """On-hand quantities per SKU with a movement journal."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.on_hand: Dict[str, int] = {}
        self.journal: List[Tuple[str, int]] = []

    def receive(self, sku: str, quantity: int) -> None:
        if quantity <= 0:
            raise ValueError("received quantity must be positive")
        self.on_hand[sku] = self.on_hand.get(sku, 0) + quantity
        self.journal.append((sku, quantity))

    def ship(self, sku: str, quantity: int) -> bool:
        available = self.on_hand.get(sku, 0)
        if quantity > available:
            return False
        self.on_hand[sku] = available - quantity
        self.journal.append((sku, -quantity))
        return True

    def level(self, sku: str) -> int:
        return self.on_hand.get(sku, 0)

    def total_units(self) -> int:
        return sum(self.on_hand.values())

    def out_of_stock(self) -> List[str]:
        return sorted([sku for sku, qty in self.on_hand.items() if qty == 0])

    def movements_for(self, sku: str) -> List[int]:
        return [qty for s, qty in self.journal if s == sku]


def apply_movements(levels: Dict[str, int], movements: List[Tuple[str, int]]) -> Dict[str, int]:
    """Apply signed movements to a copy of the levels; a level never goes below zero."""
    result = levels.copy()
    for sku, delta in movements:
        current = result.get(sku, 0) + delta
        result[sku] = max(current, 0)
    return result


def net_movement(movements: List[Tuple[str, int]]) -> Dict[str, int]:
    """Sum of movements per SKU, dropping SKUs whose net is zero."""
    totals: Dict[str, int] = {}
    for sku, delta in movements:
        totals[sku] = totals.get(sku, 0) + delta
    return {sku: total for sku, total in totals.items() if total != 0}


def days_of_cover(on_hand: int, daily_demand: List[int]) -> Optional[float]:
    """How many days the stock lasts at the average daily demand; None without demand."""
    if not daily_demand:
        return None
    average = sum(daily_demand) / len(daily_demand)
    if average == 0:
        return None
    return round(on_hand / average, 1)


def low_stock(levels: Dict[str, int], threshold: int) -> List[Tuple[str, int]]:
    """SKUs at or below the threshold, lowest level first, then by SKU."""
    low = [(sku, qty) for sku, qty in levels.items() if qty <= threshold]
    return sorted(low, key=lambda pair: (pair[1], pair[0]))


def stock_value(levels: Dict[str, int], prices: Dict[str, float]) -> float:
    """Total value of stock; SKUs without a price count as zero."""
    total = 0.0
    for sku, qty in levels.items():
        total += qty * prices.get(sku, 0.0)
    return round(total, 2)
