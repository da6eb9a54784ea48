"""Reorder points and purchase suggestions."""

import math
from typing import Dict, List, Optional, Tuple


def reorder_point(daily_demand: float, lead_time_days: int, safety_stock: int) -> int:
    """Demand during lead time plus safety stock, rounded up."""
    return int(math.ceil(daily_demand * lead_time_days)) + safety_stock


def economic_order_quantity(annual_demand: float, order_cost: float, holding_cost: float) -> int:
    """The classic EOQ formula, rounded to the nearest unit (at least 1)."""
    if holding_cost <= 0:
        raise ValueError("holding cost must be positive")
    eoq = math.sqrt(2 * annual_demand * order_cost / holding_cost)
    return max(1, round(eoq))


def safety_stock(demands: List[int], z_score: float, lead_time_days: int) -> int:
    """z * stddev(daily demand) * sqrt(lead time), rounded up."""
    n = len(demands)
    if n < 2:
        return 0
    mean = sum(demands) / n
    variance = sum((d - mean) ** 2 for d in demands) / (n - 1)
    return int(math.ceil(z_score * math.sqrt(variance) * math.sqrt(lead_time_days)))


def suggest_orders(
    levels: Dict[str, int], points: Dict[str, int], pack_sizes: Dict[str, int]
) -> List[Tuple[str, int]]:
    """For each SKU at or below its reorder point, order whole packs up to twice the point."""
    orders: List[Tuple[str, int]] = []
    for sku in sorted(points.keys()):
        level = levels.get(sku, 0)
        point = points[sku]
        if level > point:
            continue
        wanted = 2 * point - level
        pack = pack_sizes.get(sku, 1)
        packs = (wanted + pack - 1) // pack
        orders.append((sku, packs * pack))
    return orders


def split_by_budget(orders: List[Tuple[str, int, float]], budget: float) -> Tuple[List[str], List[str]]:
    """Greedy: cheapest orders first until the budget is used; returns (funded, deferred)."""
    ranked = sorted(orders, key=lambda o: (o[1] * o[2], o[0]))
    funded: List[str] = []
    deferred: List[str] = []
    remaining = budget
    for sku, qty, price in ranked:
        cost = qty * price
        if cost <= remaining:
            funded.append(sku)
            remaining -= cost
        else:
            deferred.append(sku)
    return (funded, deferred)


def next_delivery_day(order_day: int, lead_time: int, delivery_days: List[int]) -> Optional[int]:
    """First weekday (0=Mon) in `delivery_days` on or after order_day + lead_time; absolute day."""
    if not delivery_days:
        return None
    earliest = order_day + lead_time
    for offset in range(7):
        day = earliest + offset
        if day % 7 in delivery_days:
            return day
    return None
