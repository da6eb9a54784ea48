"""Currency amounts in minor units, conversion and formatting."""

from typing import Dict, List, Optional, Tuple


def to_minor(amount: float) -> int:
    """Dollars to cents, rounding half-even."""
    return round(amount * 100)


def format_minor(cents: int, symbol: str) -> str:
    """`-123456` -> `-$1,234.56`, with thousands separators."""
    sign = "-" if cents < 0 else ""
    value = abs(cents)
    whole = str(value // 100)
    frac = str(value % 100).zfill(2)
    groups: List[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + symbol + ",".join(groups) + "." + frac


def parse_amount(text: str) -> Optional[int]:
    """`$1,234.5` -> 123450 cents; None for anything that is not a plain amount."""
    cleaned = text.strip().lstrip("$").replace(",", "")
    if cleaned == "":
        return None
    parts = cleaned.split(".")
    if len(parts) > 2:
        return None
    if not parts[0].isdigit():
        return None
    cents = int(parts[0]) * 100
    if len(parts) == 2:
        frac = parts[1]
        if not frac.isdigit() or len(frac) > 2:
            return None
        cents += int((frac + "0")[:2])
    return cents


def convert(cents: int, rates: Dict[str, float], source: str, target: str) -> Optional[int]:
    """Convert through the base currency: rates map a currency to units per base unit."""
    if source not in rates or target not in rates:
        return None
    base = cents / rates[source]
    return round(base * rates[target])


def split_evenly(cents: int, ways: int) -> List[int]:
    """Split an amount into `ways` parts differing by at most one cent; larger parts first."""
    if ways <= 0:
        raise ValueError("ways must be positive")
    share, extra = divmod(cents, ways)
    return [share + 1 if i < extra else share for i in range(ways)]


def allocate(cents: int, weights: List[int]) -> List[int]:
    """Allocate proportionally to weights; leftover cents go to the largest remainders."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("weights must sum to a positive number")
    shares = [cents * w // total for w in weights]
    remainders = [(cents * w % total, i) for i, w in enumerate(weights)]
    leftover = cents - sum(shares)
    for _rem, i in sorted(remainders, key=lambda r: (-r[0], r[1]))[:leftover]:
        shares[i] += 1
    return shares


def strongest_currency(rates: Dict[str, float]) -> Tuple[str, float]:
    """The currency with the fewest units per base unit."""
    if not rates:
        raise ValueError("no rates")
    code = min(rates.keys(), key=lambda c: (rates[c], c))
    return (code, rates[code])
