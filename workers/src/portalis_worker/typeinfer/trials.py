"""Trying typed versions of a unit in score order, each checked, a bounded number of times.

Policy only: the translator and the check are passed in (the worker's rules translator and rustc;
tests pass fakes). A typing the translator rejects costs no check; the first translation the check
accepts wins. When none is accepted the result says why the best-ranked one failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from portalis_worker.typeinfer.inference import Typing, typings
from portalis_worker.typeinfer.slots import Candidate, Slot

MAX_TRIES = 6
"""Typed versions tried per unit (translations checked by rustc are at most this many)."""


class Rejected(Exception):
    """The translator cannot translate this typing (raised by the `translate` callable)."""


@dataclass(frozen=True)
class Trial:
    rust: str | None
    """The accepted translation; None when no typing was accepted."""
    chosen: Mapping[Slot, Candidate] = field(default_factory=dict)
    """The types written in for the accepted translation (empty: the source as written)."""
    tries: int = 0
    error: str = ""
    """Why the first typing failed, when none was accepted."""


def first_accepted(
    source: str,
    translate: Callable[[str], str],
    check: Callable[[str], str | None],
    limit: int = MAX_TRIES,
    model: Mapping[Slot, Sequence[Candidate]] | None = None,
) -> Trial:
    """`translate` raises `Rejected`; `check` returns None when it accepts, else the error."""
    options = typings(source, limit, model) or [Typing(source, 1.0, {})]
    first_error = ""
    for tries, typing in enumerate(options, start=1):
        try:
            rust = translate(typing.source)
        except Rejected as exc:
            first_error = first_error or str(exc)
            continue
        error = check(rust)
        if error is None:
            return Trial(rust, typing.chosen, tries)
        first_error = first_error or error
    return Trial(None, {}, len(options), first_error)
