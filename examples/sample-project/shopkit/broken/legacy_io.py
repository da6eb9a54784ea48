"""Legacy parsing code: valid Python, but outside the rule-based translator's subset."""

from typing import List, Optional


def parse_quantity(text: str) -> Optional[int]:
    """try/except changes the function's error model; the translator refuses it."""
    try:
        return int(text)
    except ValueError:
        return None


def chunks(values: List[int], size: int):
    """A generator: `yield` has no direct Rust equivalent in the translator."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def clamp_quantity(value: int, low: int, high: int) -> int:
    """This one is fine: a file's other units still translate."""
    return max(low, min(value, high))
