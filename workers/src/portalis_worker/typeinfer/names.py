"""Weak evidence from a parameter's name: the conventions Python code commonly follows.

`s`, `text`, `word` hold strings; `n`, `k`, `count`, `index` integers; `nums`, `lst`, `arr` and
plural nouns lists. A name only tips a slot that its usage leaves open (a sized, indexed value: a
list or a str?); its weight is below any usage evidence.
"""

from __future__ import annotations

import re

from portalis_worker.typeinfer.terms import BOOL, FLOAT, INT, STR, Term, dict_of, list_of

NAME_WEIGHT = 0.3


def _words(text: str) -> list[str]:
    return text.split()


_EXACT: dict[str, Term] = {
    **dict.fromkeys(
        _words(
            "s st string text txt word name line char ch c letter sentence message msg prefix suffix "
            "sep delimiter path filename key label title pattern substring sub"
        ),
        STR,
    ),
    **dict.fromkeys(_words("n m k i j x y num number count index idx size length width height base"), INT),
    **dict.fromkeys(_words("flag enabled verbose strict reverse"), BOOL),
    **dict.fromkeys(_words("ratio rate threshold epsilon eps alpha weight"), FLOAT),
    **dict.fromkeys(_words("l lst arr array xs items values elements numbers nums seq vec"), list_of()),
    **dict.fromkeys(_words("d dct mapping table counts"), dict_of()),
}
_STRING_PARTS = re.compile(r"(?:^|_)(str|string|text|name|word|line|char|msg)(?:$|_)")
_INT_PARTS = re.compile(r"(?:^|_)(n|num|count|index|idx|size|len|length)(?:$|_)")
_LIST_PARTS = re.compile(r"(?:^|_)(list|lst|arr|array|nums|items|values)(?:$|_|\d)")


def name_prior(name: str) -> Term | None:
    """The type a parameter's name suggests, if any."""
    lowered = name.lower()
    if lowered in _EXACT:
        return _EXACT[lowered]
    stem = lowered.rstrip("0123456789")
    if stem in _EXACT:
        return _EXACT[stem]
    if _LIST_PARTS.search(lowered):
        return list_of()
    if _STRING_PARTS.search(lowered):
        return STR
    if _INT_PARTS.search(lowered):
        return INT
    if len(stem) > 3 and stem.endswith("s") and not stem.endswith(("ss", "us", "is")):
        singular = name_prior(stem[:-1])
        return list_of(singular) if singular is not None and singular.kind != "list" else list_of()
    return None
