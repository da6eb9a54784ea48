"""Daily sales time series."""

from typing import Dict, List, Optional, Tuple


def moving_average(values: List[float], window: int) -> List[float]:
    if window <= 0:
        raise ValueError("window must be positive")
    out: List[float] = []
    running = 0.0
    for i, v in enumerate(values):
        running += v
        if i >= window:
            running -= values[i - window]
        if i >= window - 1:
            out.append(round(running / window, 4))
    return out


def exponential_smoothing(values: List[float], alpha: float) -> List[float]:
    if not 0.0 < alpha <= 1.0:
        raise ValueError("alpha must be in (0, 1]")
    if not values:
        return []
    out = [values[0]]
    for v in values[1:]:
        out.append(alpha * v + (1 - alpha) * out[-1])
    return [round(x, 4) for x in out]


def differences(values: List[int]) -> List[int]:
    return [b - a for a, b in zip(values, values[1:])]


def cumulative(values: List[int]) -> List[int]:
    out: List[int] = []
    total = 0
    for v in values:
        total += v
        out.append(total)
    return out


def longest_growth_streak(values: List[int]) -> int:
    """Length of the longest run of strictly increasing values."""
    if not values:
        return 0
    best = 1
    current = 1
    for i in range(1, len(values)):
        if values[i] > values[i - 1]:
            current += 1
            best = max(best, current)
        else:
            current = 1
    return best


def weekly_totals(daily: List[int]) -> List[int]:
    return [sum(daily[i : i + 7]) for i in range(0, len(daily), 7)]


def peak_day(daily: Dict[str, int]) -> Optional[Tuple[str, int]]:
    if not daily:
        return None
    day = max(sorted(daily.keys()), key=lambda d: daily[d])
    return (day, daily[day])


def linear_trend(values: List[float]) -> Tuple[float, float]:
    """Least-squares (slope, intercept) against x = 0, 1, 2, ..."""
    n = len(values)
    if n < 2:
        raise ValueError("need at least two points")
    mx = (n - 1) / 2.0
    my = sum(values) / n
    num = sum((i - mx) * (v - my) for i, v in enumerate(values))
    den = sum((i - mx) ** 2 for i in range(n))
    slope = num / den
    return (round(slope, 6), round(my - slope * mx, 6))


def anomalies(values: List[float], threshold: float) -> List[int]:
    """Indices whose value is more than `threshold` standard deviations from the mean."""
    n = len(values)
    if n < 2:
        return []
    m = sum(values) / n
    sd = (sum((v - m) ** 2 for v in values) / (n - 1)) ** 0.5
    if sd == 0:
        return []
    return [i for i, v in enumerate(values) if abs(v - m) / sd > threshold]
