"""Type terms: joining evidence, the types of literal values and of written annotations."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portalis_worker.typeinfer.terms import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    UNKNOWN,
    Term,
    dict_of,
    join,
    list_of,
    of_annotation,
    of_value,
    optional,
    tuple_of,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (INT, FLOAT, FLOAT),
        (BOOL, INT, INT),
        (INT, NONE, optional(INT)),
        (optional(INT), FLOAT, optional(FLOAT)),
        (list_of(), list_of(STR), list_of(STR)),
        (dict_of(STR), dict_of(UNKNOWN, INT), dict_of(STR, INT)),
        (STR, list_of(STR), None),
        (tuple_of(INT, STR), tuple_of(INT), None),
        (list_of(INT), list_of(STR), None),
    ],
)
def test_join_is_the_least_type_holding_both(a: Term, b: Term, expected: Term | None) -> None:
    assert join(a, b) == expected
    assert join(b, a) == expected


TERMS = st.recursive(
    st.sampled_from([INT, FLOAT, BOOL, STR, NONE, UNKNOWN]),
    lambda inner: st.one_of(st.builds(list_of, inner), st.builds(dict_of, inner, inner)),
    max_leaves=4,
)


@given(TERMS, TERMS)
def test_join_is_commutative_and_an_upper_bound(a: Term, b: Term) -> None:
    joined = join(a, b)
    assert joined == join(b, a)
    if joined is not None:
        assert join(joined, a) == joined
        assert join(joined, b) == joined


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ([1, 2.5], "list[float]"),
        ([[1], []], "list[list[int]]"),
        ({"a": 1}, "dict[str, int]"),
        ((1, "x", None), "tuple[int, str, None]"),
        ([None, 3], "list[int | None]"),
        (True, "bool"),
    ],
)
def test_values_give_their_types(value: object, rendered: str) -> None:
    assert of_value(value).render() == rendered


def test_empty_containers_leave_the_element_open() -> None:
    assert of_value([]) == list_of()
    assert not of_value([]).complete


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("List[int]", list_of(INT)),
        ("list", list_of()),
        ("Optional[str]", optional(STR)),
        ("int | None", optional(INT)),
        ("Tuple[int, str]", tuple_of(INT, STR)),
        ("'float'", FLOAT),
        ("Callable[[int], int]", UNKNOWN),
    ],
)
def test_annotations_read_as_written(annotation: str, expected: Term) -> None:
    assert of_annotation(ast.parse(annotation, mode="eval").body) == expected
