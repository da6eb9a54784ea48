"""What inference is about (slots) and what it produces (evidence, scored candidates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from portalis_worker.typeinfer.terms import Term

RETURN = "<return>"
"""The slot name of a function's return value."""

Source = Literal["annotation", "docstring", "usage", "call-site", "name", "default", "model"]
"""How a type was found. `annotation`: written in the source; `docstring`, `usage`, `call-site`,
`name`, `default`: the rules (examples in the docstring; how the body uses the value; what callers
in the package pass; the parameter's name; a common type when nothing else is known); `model`: the
type model."""


@dataclass(frozen=True)
class Slot:
    function: str
    """The function's qualified name within its module (`f`, `C.m`)."""
    name: str
    """A parameter's name, or `RETURN`."""


@dataclass(frozen=True)
class Evidence:
    term: Term
    weight: float
    source: Source


@dataclass(frozen=True)
class Candidate:
    """One type for one slot. `term` None: leave the slot unannotated (the translator infers it)."""

    term: Term | None
    score: float
    source: Source

    @property
    def text(self) -> str:
        return "(inferred by the translator)" if self.term is None else self.term.render()
