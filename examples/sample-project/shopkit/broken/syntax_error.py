"""A half-finished edit: the function below is missing a closing parenthesis."""

from typing import List


def total_quantity(quantities: List[int]) -> int:
    return sum(q for q in quantities if q > 0


def first_quantity(quantities: List[int]) -> int:
    return quantities[0]
