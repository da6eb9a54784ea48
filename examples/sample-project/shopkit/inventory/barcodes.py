"""EAN-13 / UPC-A barcodes and batch codes."""

from typing import List, Optional, Tuple


def ean13_check_digit(first12: str) -> int:
    """The check digit for the first twelve digits of an EAN-13."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError("need exactly twelve digits")
    total = 0
    for i, ch in enumerate(first12):
        weight = 3 if i % 2 == 1 else 1
        total += int(ch) * weight
    return (10 - total % 10) % 10


def is_valid_ean13(code: str) -> bool:
    if len(code) != 13 or not code.isdigit():
        return False
    total = sum(int(ch) * (3 if i % 2 == 1 else 1) for i, ch in enumerate(code[:12]))
    return (10 - total % 10) % 10 == int(code[12])


def upc_to_ean(upc: str) -> Optional[str]:
    """A 12-digit UPC-A is an EAN-13 with a leading zero."""
    if len(upc) != 12 or not upc.isdigit():
        return None
    return "0" + upc


def country_prefix(code: str) -> str:
    """A coarse GS1 prefix lookup for the first three digits."""
    if len(code) < 3 or not code[:3].isdigit():
        return "unknown"
    prefix = int(code[:3])
    if prefix <= 139:
        return "US/CA"
    if 300 <= prefix <= 379:
        return "FR"
    if 400 <= prefix <= 440:
        return "DE"
    if 450 <= prefix <= 459 or 490 <= prefix <= 499:
        return "JP"
    if 500 <= prefix <= 509:
        return "UK"
    if prefix == 978 or prefix == 979:
        return "book"
    return "other"


def parse_batch_code(code: str) -> Optional[Tuple[int, int, int]]:
    """`B24-07-0153` -> (2024, 7, 153): year, week, sequence."""
    if not code.startswith("B"):
        return None
    parts = code[1:].split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    year, week, seq = 2000 + int(parts[0]), int(parts[1]), int(parts[2])
    if not 1 <= week <= 53:
        return None
    return (year, week, seq)


def next_batch_codes(year: int, week: int, start: int, count: int) -> List[str]:
    yy = str(year % 100).zfill(2)
    ww = str(week).zfill(2)
    return [f"B{yy}-{ww}-{str(start + i).zfill(4)}" for i in range(count)]
