"""Discount rules: percentages, tiers, bundles and coupons."""

from typing import Dict, List, Optional, Tuple


def percent_off(price: float, percent: float) -> float:
    """Price after a percentage discount, clamped to [0, 100] percent, rounded to cents."""
    p = min(max(percent, 0.0), 100.0)
    return round(price * (100.0 - p) / 100.0, 2)


def tiered_discount(quantity: int, tiers: List[Tuple[int, float]]) -> float:
    """The discount percent of the highest tier whose minimum quantity is reached."""
    best = 0.0
    for minimum, percent in sorted(tiers):
        if quantity >= minimum:
            best = percent
    return best


def buy_x_get_y(quantity: int, buy: int, free: int) -> int:
    """How many units are paid for under a buy-X-get-Y-free offer."""
    if buy <= 0:
        raise ValueError("buy must be positive")
    group = buy + free
    full_groups = quantity // group
    rest = quantity % group
    return full_groups * buy + min(rest, buy)


def bundle_price(prices: Dict[str, float], bundle: List[str], bundle_discount: float) -> Optional[float]:
    """Price of a bundle with a percentage off the sum; None if an item has no price."""
    total = 0.0
    for sku in bundle:
        if sku not in prices:
            return None
        total += prices[sku]
    return round(total * (1.0 - bundle_discount / 100.0), 2)


class Coupon:
    """A coupon code with a percentage, a minimum spend and a use limit."""

    def __init__(self, code: str, percent: float, minimum_spend: float, max_uses: int) -> None:
        self.code = code.upper()
        self.percent = percent
        self.minimum_spend = minimum_spend
        self.max_uses = max_uses
        self.uses = 0

    def applies_to(self, basket_total: float) -> bool:
        return basket_total >= self.minimum_spend and self.uses < self.max_uses

    def redeem(self, basket_total: float) -> float:
        """The discounted total; the coupon is used only when it applies."""
        if not self.applies_to(basket_total):
            return basket_total
        self.uses += 1
        return round(basket_total * (1.0 - self.percent / 100.0), 2)

    def remaining(self) -> int:
        return self.max_uses - self.uses


def best_coupon(codes: List[str], percents: List[float], minimums: List[float], total: float) -> str:
    """The code giving the largest saving on `total`, or an empty string when none applies."""
    best_code = ""
    best_saving = 0.0
    for code, percent, minimum in zip(codes, percents, minimums):
        if total < minimum:
            continue
        saving = total * percent / 100.0
        if saving > best_saving:
            best_saving = saving
            best_code = code
    return best_code


def stack_discounts(price: float, percents: List[float]) -> float:
    """Apply discounts one after another (not additively)."""
    result = price
    for p in percents:
        result = result * (1.0 - p / 100.0)
    return round(result, 2)
