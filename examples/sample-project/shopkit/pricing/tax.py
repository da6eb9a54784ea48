"""Sales tax by region and category."""

from typing import Dict, List, Tuple


def tax_amount(net: float, rate_percent: float) -> float:
    """Tax on a net amount, rounded half-even to cents."""
    return round(net * rate_percent / 100.0, 2)


def gross_from_net(net: float, rate_percent: float) -> float:
    return round(net * (1.0 + rate_percent / 100.0), 2)


def net_from_gross(gross: float, rate_percent: float) -> float:
    return round(gross / (1.0 + rate_percent / 100.0), 2)


def region_rate(region: str, category: str) -> float:
    """Rates for a handful of made-up regions; food is reduced, books are zero-rated in the north."""
    r = region.lower()
    c = category.lower()
    if r == "north":
        if c == "books":
            return 0.0
        return 5.0 if c == "food" else 20.0
    if r == "south":
        return 7.0 if c == "food" else 19.0
    if r == "east":
        return 8.5
    return 10.0


def tax_breakdown(lines: List[Tuple[str, float, float]]) -> Dict[str, float]:
    """Sum of tax per rate label (`20.0%`), for (sku, net, rate) lines."""
    totals: Dict[str, float] = {}
    for _sku, net, rate in lines:
        label = f"{rate:.1f}%"
        totals[label] = totals.get(label, 0.0) + net * rate / 100.0
    return {label: round(amount, 2) for label, amount in totals.items()}


def invoice_total(nets: List[float], rates: List[float]) -> Tuple[float, float, float]:
    """(net, tax, gross) totals for parallel lists of net amounts and rates."""
    if len(nets) != len(rates):
        raise ValueError("nets and rates differ in length")
    net_total = sum(nets)
    tax_total = sum(n * r / 100.0 for n, r in zip(nets, rates))
    return (round(net_total, 2), round(tax_total, 2), round(net_total + tax_total, 2))


def is_exempt(customer_type: str, tax_id: str) -> bool:
    """Charities and resellers with a well-formed tax id are exempt."""
    if customer_type not in ("charity", "reseller"):
        return False
    cleaned = tax_id.replace(" ", "").replace("-", "")
    return len(cleaned) == 10 and cleaned[:2].isalpha() and cleaned[2:].isdigit()
