"""Catalogue items and SKU handling."""

from dataclasses import dataclass
from typing import Dict, List, Optional


@dataclass
class Item:
    """One catalogue entry."""

    sku: str
    name: str
    category: str
    unit_price: float
    weight_grams: int = 0
    active: bool = True

    def label(self) -> str:
        state = "" if self.active else " (inactive)"
        return f"{self.sku}: {self.name} [{self.category}]{state}"

    def price_for(self, quantity: int) -> float:
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        return round(self.unit_price * quantity, 2)

    def deactivate(self) -> None:
        self.active = False

    def is_heavy(self, limit_grams: int) -> bool:
        return self.weight_grams > limit_grams


def normalise_sku(raw: str) -> str:
    """Upper-case, strip, and replace spaces and underscores with dashes."""
    cleaned = raw.strip().upper()
    out = ""
    for ch in cleaned:
        if ch == " " or ch == "_":
            if not out.endswith("-"):
                out += "-"
        elif ch.isalnum() or ch == "-":
            out += ch
    return out.strip("-")


def sku_checksum(sku: str) -> int:
    """A weighted checksum of the SKU's characters, modulo 97."""
    total = 0
    for i, ch in enumerate(sku):
        total += (i + 1) * ord(ch)
    return total % 97


def is_valid_sku(sku: str) -> bool:
    """A valid SKU is three letters, a dash, and four to six digits."""
    parts = sku.split("-")
    if len(parts) != 2:
        return False
    prefix, number = parts[0], parts[1]
    if len(prefix) != 3 or not prefix.isalpha() or not prefix.isupper():
        return False
    return number.isdigit() and 4 <= len(number) <= 6


def parse_item_line(line: str) -> Optional[List[str]]:
    """Split a `sku;name;category;price` line into its fields, or None when malformed."""
    fields = [f.strip() for f in line.split(";")]
    if len(fields) != 4:
        return None
    if any(f == "" for f in fields):
        return None
    price = fields[3].replace(".", "", 1)
    if not price.isdigit():
        return None
    return fields


def group_by_category(skus: List[str], categories: List[str]) -> Dict[str, List[str]]:
    """Map each category to the sorted SKUs in it."""
    groups: Dict[str, List[str]] = {}
    for sku, category in zip(skus, categories):
        if category not in groups:
            groups[category] = []
        groups[category].append(sku)
    return {category: sorted(members) for category, members in groups.items()}


def cheapest_sku(prices: Dict[str, float]) -> Optional[str]:
    """The SKU with the lowest price; ties go to the alphabetically first SKU."""
    best: Optional[str] = None
    best_price = 0.0
    for sku in sorted(prices.keys()):
        price = prices[sku]
        if best is None or price < best_price:
            best = sku
            best_price = price
    return best
