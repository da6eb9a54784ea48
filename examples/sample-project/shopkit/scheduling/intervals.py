"""Time intervals in minutes since midnight."""

from typing import List, Optional, Tuple


def parse_hhmm(text: str) -> Optional[int]:
    """`09:30` -> 570; None when malformed."""
    parts = text.strip().split(":")
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    h, m = int(parts[0]), int(parts[1])
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def format_hhmm(minutes: int) -> str:
    m = minutes % (24 * 60)
    return str(m // 60).zfill(2) + ":" + str(m % 60).zfill(2)


def merge_intervals(intervals: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Merge overlapping or touching [start, end) intervals."""
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def total_covered(intervals: List[Tuple[int, int]]) -> int:
    total = 0
    current_start = -1
    current_end = -1
    for start, end in sorted(intervals):
        if start > current_end:
            total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    return total + current_end - current_start


def free_slots(busy: List[Tuple[int, int]], day_start: int, day_end: int, minimum: int) -> List[Tuple[int, int]]:
    """Gaps of at least `minimum` minutes between busy intervals within the day."""
    slots: List[Tuple[int, int]] = []
    cursor = day_start
    for start, end in sorted(busy):
        if start - cursor >= minimum:
            slots.append((cursor, min(start, day_end)))
        cursor = max(cursor, end)
        if cursor >= day_end:
            break
    if day_end - cursor >= minimum:
        slots.append((cursor, day_end))
    return slots


def max_overlap(intervals: List[Tuple[int, int]]) -> int:
    """Largest number of intervals open at the same time (sweep line)."""
    events: List[Tuple[int, int]] = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort()
    current = 0
    best = 0
    for _t, delta in events:
        current += delta
        best = max(best, current)
    return best


def overlaps(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
