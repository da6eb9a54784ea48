"""Plain-text end-of-day reports."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass
class DailySummary:
    store: str
    day: str
    orders: int
    revenue: float
    refunds: float = 0.0

    def net_revenue(self) -> float:
        return round(self.revenue - self.refunds, 2)

    def average_order(self) -> Optional[float]:
        if self.orders == 0:
            return None
        return round(self.revenue / self.orders, 2)

    def headline(self) -> str:
        return f"{self.store} {self.day}: {self.orders} orders, {self.net_revenue():.2f} net"

    def add_refund(self, amount: float) -> None:
        if amount < 0:
            raise ValueError("refund must not be negative")
        self.refunds += amount


def revenue_by_store(rows: List[Tuple[str, float]]) -> Dict[str, float]:
    totals: Dict[str, float] = {}
    for store, amount in rows:
        totals[store] = round(totals.get(store, 0.0) + amount, 2)
    return totals


def report_lines(totals: Dict[str, float]) -> List[str]:
    """`store ........ 123.45` lines, highest revenue first, 30 characters wide."""
    lines: List[str] = []
    for store, amount in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        value = f"{amount:.2f}"
        dots = 30 - len(store) - len(value) - 2
        lines.append(store + " " + "." * max(dots, 1) + " " + value)
    return lines


def percent_change(previous: float, current: float) -> Optional[float]:
    if previous == 0:
        return None
    return round(100.0 * (current - previous) / previous, 1)


def trend_arrow(previous: float, current: float, tolerance: float) -> str:
    if previous == 0:
        return "new"
    change = (current - previous) / previous
    if change > tolerance:
        return "up"
    if change < -tolerance:
        return "down"
    return "flat"


def csv_row(fields: List[str]) -> str:
    """Quote fields containing commas, quotes or newlines, doubling inner quotes."""
    out: List[str] = []
    for f in fields:
        if "," in f or '"' in f or "\n" in f:
            out.append('"' + f.replace('"', '""') + '"')
        else:
            out.append(f)
    return ",".join(out)


def parse_csv_row(line: str) -> List[str]:
    """The inverse of csv_row for a single line."""
    fields: List[str] = []
    current = ""
    quoted = False
    i = 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == '"' and i + 1 < len(line) and line[i + 1] == '"':
                current += '"'
                i += 1
            elif ch == '"':
                quoted = False
            else:
                current += ch
        elif ch == '"':
            quoted = True
        elif ch == ",":
            fields.append(current)
            current = ""
        else:
            current += ch
        i += 1
    fields.append(current)
    return fields
