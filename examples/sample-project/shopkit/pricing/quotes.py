"""Customer quotes: line items, margins and validity."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass
class QuoteLine:
    sku: str
    quantity: int
    unit_cost: float
    unit_price: float

    def revenue(self) -> float:
        return self.quantity * self.unit_price

    def margin(self) -> float:
        return self.quantity * (self.unit_price - self.unit_cost)

    def margin_percent(self) -> float:
        if self.unit_price == 0:
            return 0.0
        return round(100.0 * (self.unit_price - self.unit_cost) / self.unit_price, 1)


class Quote:
    """A quote with lines keyed by SKU; adding a SKU twice adds to its quantity."""

    def __init__(self, customer: str, valid_days: int) -> None:
        self.customer = customer
        self.valid_days = valid_days
        self.quantities: Dict[str, int] = {}
        self.prices: Dict[str, float] = {}

    def add(self, sku: str, quantity: int, price: float) -> None:
        self.quantities[sku] = self.quantities.get(sku, 0) + quantity
        self.prices[sku] = price

    def remove(self, sku: str) -> bool:
        if sku not in self.quantities:
            return False
        self.quantities.pop(sku)
        self.prices.pop(sku)
        return True

    def total(self) -> float:
        return round(sum(self.quantities[s] * self.prices[s] for s in self.quantities), 2)

    def is_valid_on(self, issued_day: int, day: int) -> bool:
        return issued_day <= day <= issued_day + self.valid_days

    def summary(self) -> List[str]:
        out: List[str] = []
        for sku in sorted(self.quantities.keys()):
            out.append(f"{sku} x{self.quantities[sku]} @ {self.prices[sku]:.2f}")
        return out


def price_for_margin(cost: float, margin_percent: float) -> float:
    """The price giving the margin (on price, not on cost)."""
    if margin_percent >= 100.0:
        raise ValueError("margin must be below 100 percent")
    return round(cost / (1.0 - margin_percent / 100.0), 2)


def lowest_margin_line(lines: List[Tuple[str, float, float]]) -> Optional[str]:
    """The SKU of the (sku, cost, price) line with the lowest margin percentage."""
    worst: Optional[str] = None
    worst_margin = 0.0
    for sku, cost, price in lines:
        if price <= 0:
            continue
        m = (price - cost) / price
        if worst is None or m < worst_margin:
            worst = sku
            worst_margin = m
    return worst


def quote_number(customer: str, sequence: int, year: int) -> str:
    """`Acme Corp`, 7, 2024 -> `Q2024-ACMECO-0007`."""
    letters = "".join(ch for ch in customer.upper() if ch.isalpha())[:6]
    return f"Q{year}-{letters}-{str(sequence).zfill(4)}"
