"""Calendar arithmetic on proleptic Gregorian dates, without the datetime module."""

from typing import List, Optional, Tuple


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def day_of_year(year: int, month: int, day: int) -> int:
    lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        lengths[1] = 29
    return sum(lengths[: month - 1]) + day


def weekday(year: int, month: int, day: int) -> int:
    """0 = Monday ... 6 = Sunday (Zeller's congruence, adapted)."""
    if month < 3:
        month += 12
        year -= 1
    k = year % 100
    j = year // 100
    h = (day + 13 * (month + 1) // 5 + k + k // 4 + j // 4 + 5 * j) % 7
    return (h + 5) % 7


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 (Howard Hinnant's algorithm)."""
    y = year - 1 if month <= 2 else year
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> Tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y, m, d)


def parse_date(text: str) -> Optional[Tuple[int, int, int]]:
    """`2024-02-29` -> (2024, 2, 29); None for malformed or impossible dates."""
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
    if not 1 <= m <= 12:
        return None
    limit = 31
    if m == 2:
        limit = 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    elif m in (4, 6, 9, 11):
        limit = 30
    if not 1 <= d <= limit:
        return None
    return (y, m, d)


def business_days(weekdays: List[int], holidays: List[int]) -> int:
    """Count of (day number, weekday) pairs that are Mon-Fri and not holidays."""
    count = 0
    for i, wd in enumerate(weekdays):
        if wd < 5 and i not in holidays:
            count += 1
    return count


def month_grid(first_weekday: int, length: int) -> List[List[int]]:
    """Weeks (Mon..Sun) of a month; 0 marks days outside it."""
    cells = [0] * first_weekday + list(range(1, length + 1))
    while len(cells) % 7 != 0:
        cells.append(0)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]
