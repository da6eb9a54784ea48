"""Trying typed versions in score order: the translator and the check are fakes (pure policy)."""

from __future__ import annotations

import pytest

from portalis_worker.typeinfer.trials import Rejected, first_accepted

pytestmark = pytest.mark.unit

SOURCE = "def f(a, b):\n    return a.strip() * b\n"


def test_the_first_accepted_typing_wins_and_rejections_cost_no_check() -> None:
    checked: list[str] = []

    def translate(source: str) -> str:
        if "b: int" in source:
            raise Rejected("not this one")
        return source

    def check(rust: str) -> str | None:
        checked.append(rust)
        return None

    trial = first_accepted(SOURCE, translate, check, limit=3)
    assert trial.rust is not None
    assert "b: int" not in trial.rust
    assert trial.tries == 2
    assert len(checked) == 1
    assert {f"{s.function}.{s.name}": c.text for s, c in trial.chosen.items()}["f.a"] == "str"


def test_none_accepted_reports_the_first_error_within_the_bound() -> None:
    calls: list[str] = []

    def check(rust: str) -> str | None:
        calls.append(rust)
        return f"error {len(calls)}"

    trial = first_accepted(SOURCE, lambda s: s, check, limit=2)
    assert trial.rust is None
    assert trial.tries == 2
    assert len(calls) == 2
    assert trial.error == "error 1"


def test_a_fully_annotated_source_is_tried_as_written() -> None:
    source = "def f(a: int) -> int:\n    return a\n"
    trial = first_accepted(source, lambda s: s, lambda r: None)
    assert trial.rust == source
    assert trial.chosen == {}
    assert trial.tries == 1
