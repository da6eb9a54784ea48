"""Inference over whole modules: docstring examples, usage, call sites, names; typed sources."""

from __future__ import annotations

import ast
import textwrap

import pytest

from portalis_worker.typeinfer import RETURN, Slot, infer, typings
from portalis_worker.typeinfer.examples import examples
from portalis_worker.typeinfer.ranking import assignments, merge, slot_candidates
from portalis_worker.typeinfer.slots import Candidate, Evidence
from portalis_worker.typeinfer.terms import FLOAT, INT, STR, list_of

pytestmark = pytest.mark.unit


def best(source: str) -> dict[str, str]:
    """`function.param` -> the best candidate's annotation text."""
    types = infer(ast.parse(textwrap.dedent(source)))
    return {f"{s.function}.{s.name}": c[0].text for s, c in types.open.items() if c}


def test_doctest_examples_type_parameters_and_return() -> None:
    found = best(
        '''
        def scale(values, factor):
            """
            >>> scale([1, 2], 0.5)
            [0.5, 1.0]
            """
            return [v * factor for v in values]
        '''
    )
    assert found == {"scale.values": "list[int]", "scale.factor": "float", f"scale.{RETURN}": "list[float]"}


@pytest.mark.parametrize(
    "line",
    ["f('ab', 3) == True", "f('ab', 3) => true", "f('ab', 3) ➞ True", "f('ab', 3) returns True."],
)
def test_inline_examples_in_the_usual_notations(line: str) -> None:
    (example,) = examples("f", line)
    assert [a.render() if a else None for a in example.args] == ["str", "int"]
    assert example.result is not None
    assert example.result.render() == "bool"


def test_non_literal_arguments_give_nothing_and_other_functions_are_not_examples() -> None:
    (example,) = examples("f", "f(x, [1]) -> [2]\nself.f(1) == 2\ng(f) == 3")
    assert example.args[0] is None
    assert example.result == list_of(INT)


def test_usage_methods_operators_builtins() -> None:
    found = best(
        """
        def g(text, n, items, table):
            out = text.lower()
            for i in range(n):
                items.append(i)
            return table.get(out)
        """
    )
    assert found["g.text"] == "str"
    assert found["g.n"] == "int"
    assert found["g.items"] == "list[int]"
    assert found["g.table"].startswith("dict[str,")


def test_element_usage_types_the_container() -> None:
    found = best(
        """
        def count_digits(parts):
            total = 0
            for p in parts:
                if p.isdigit():
                    total += 1
            return total
        """
    )
    assert found["count_digits.parts"] == "list[str]"


def test_call_sites_in_the_module_type_a_helper() -> None:
    found = best(
        """
        def helper(v):
            return v

        def main(xs: list[float]) -> float:
            return helper(xs[0])
        """
    )
    assert found["helper.v"] == "float"


def test_written_annotations_are_kept_and_bare_containers_completed() -> None:
    types = infer(ast.parse("def f(a: int, b: list):\n    return b[0] + a\n"))
    assert Slot("f", "a") not in types.open
    assert types.written[Slot("f", "a")] == INT
    assert types.open[Slot("f", "b")][0].term == list_of(INT)


def test_without_shown_results_the_return_is_left_to_the_translator() -> None:
    types = infer(ast.parse("def f(a):\n    return a + 1\n"))
    assert Slot("f", RETURN) not in types.open


def test_methods_skip_self() -> None:
    types = infer(ast.parse("class C:\n    def m(self, s):\n        return s.upper()\n"))
    assert [s.name for s in types.open] == ["s"]
    assert types.open[Slot("C.m", "s")][0].term == STR


def test_typings_are_sources_with_the_annotations_written_in_best_first() -> None:
    options = typings("def f(a, b):\n    return a.strip() * b\n", limit=3)
    assert len(options) == 3
    assert [o.score for o in options] == sorted((o.score for o in options), reverse=True)
    first = ast.parse(options[0].source).body[0]
    assert isinstance(first, ast.FunctionDef)
    assert [ast.unparse(a.annotation) for a in first.args.args if a.annotation] == ["str", "int"]
    assert options[0].chosen[Slot("f", "a")].source == "usage"


def test_a_fully_annotated_module_needs_no_typing() -> None:
    assert typings("def f(a: int) -> int:\n    return a\n", limit=4) == []


def test_strong_evidence_outweighs_weak_and_no_evidence_gives_defaults() -> None:
    ranked = slot_candidates(
        [Evidence(STR, 4.0, "docstring"), Evidence(list_of(), 0.4, "usage"), Evidence(INT, 0.3, "name")]
    )
    assert ranked[0].term == STR
    assert ranked[0].source == "docstring"
    defaults = slot_candidates([])
    assert {c.source for c in defaults} == {"default"}
    assert defaults[0].term == INT


def test_model_candidates_rank_what_the_rules_leave_open() -> None:
    rules = [Candidate(INT, 0.4, "default"), Candidate(STR, 0.35, "default")]
    ranked = merge(rules, [Candidate(STR, 0.9, "model"), Candidate(FLOAT, 0.1, "model")])
    assert [c.text for c in ranked] == ["str", "int", "float"]
    assert ranked[2].source == "model"


def test_assignments_enumerate_best_products_first_and_stay_bounded() -> None:
    slots = {
        Slot("f", f"p{i}"): [Candidate(INT, 0.6, "usage"), Candidate(STR, 0.3, "usage")] for i in range(20)
    }
    found = assignments(slots, limit=5)
    assert len(found) == 5
    scores = [s for s, _ in found]
    assert scores == sorted(scores, reverse=True)
    assert all(c.term == INT for c in found[0][1].values())


def test_annotations_inference_cannot_read_are_kept_as_written() -> None:
    source = "def f(key: Key, data: Any, xs: list) -> Mapping[str, Any]:\n    return xs[0]\n"
    types = infer(ast.parse(source))
    assert list(types.open) == [Slot("f", "xs")]
