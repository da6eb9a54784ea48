"""The rules translator on typed versions of a unit: the types that untyped Python leaves out.

`InferredTypes` computes, once per unit, the typed versions of its source that type inference
(`portalis_worker.typeinfer`) ranks best, at most `MAX_TRIES`. The chain gets one
`InferredRulesBackend` per rank after the plain rules backend: a unit whose source translates as
written never reaches them; one that does not (an untyped parameter) is offered its best typing,
and when the file's rustc check rejects that translation the pipeline moves the unit on to the next
rank, so candidates are tried in score order through rustc, a bounded number of times.

`InferredTypes.take(unit_id)` says which types the accepted translation was given and how each was
found (`docstring`, `usage`, `call-site`, `name`, `default`: the rules; `model`: the type model),
for the unit's ledger record and the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from portalis_worker.backends import Outcome, RulesBackend
from portalis_worker.typeinfer import Candidate, Slot, Typing, typings
from portalis_worker.typeinfer.trials import MAX_TRIES
from portalis_worker.units import Unit

if TYPE_CHECKING:
    from portalis_worker.rules.package_scope import PackageTranslator

NAME = "rules+types"

TypesRecord = dict[str, dict[str, str | float]]
"""`function.param` (or `function.<return>`) -> {type, source, score}: the ledger's `types` field."""


class InferredTypes:
    """Typed versions per unit, shared by the rank backends; which rank each unit was offered last."""

    def __init__(
        self, limit: int = MAX_TRIES, model: Mapping[Slot, Sequence[Candidate]] | None = None
    ) -> None:
        self.limit = limit
        self.model = model
        self._typings: dict[str, list[Typing]] = {}
        self._offered: dict[str, int] = {}

    def options(self, unit: Unit) -> list[Typing]:
        if unit.id not in self._typings:
            try:
                self._typings[unit.id] = typings(unit.source, self.limit, self.model)
            except (SyntaxError, RecursionError, MemoryError):
                self._typings[unit.id] = []
        return self._typings[unit.id]

    def offered(self, unit_id: str, rank: int) -> None:
        self._offered[unit_id] = rank

    def take(self, unit_id: str) -> TypesRecord | None:
        """The types of the translation last offered for `unit_id` (None: none was offered); forgets
        the unit."""
        options = self._typings.pop(unit_id, [])
        rank = self._offered.pop(unit_id, None)
        if rank is None or rank >= len(options):
            return None
        return types_record(options[rank].chosen)


def types_record(chosen: Mapping[Slot, Candidate]) -> TypesRecord:
    return {
        f"{slot.function}.{slot.name}": {
            "type": candidate.text,
            "source": candidate.source,
            "score": round(candidate.score, 3),
        }
        for slot, candidate in chosen.items()
    }


class InferredRulesBackend(RulesBackend):
    """The rules translator on a unit's `rank`-th typed version (no answer when it has fewer)."""

    name = NAME

    def __init__(self, inferred: InferredTypes, rank: int, package: PackageTranslator | None = None) -> None:
        super().__init__(package)
        self.inferred = inferred
        self.rank = rank

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        out: list[Outcome] = []
        for unit in units:
            options = self.inferred.options(unit)
            if self.rank >= len(options):
                out.append(None)
                continue
            outcome = self._one(dataclasses.replace(unit, source=options[self.rank].source))
            if isinstance(outcome, str):
                self.inferred.offered(unit.id, self.rank)
            out.append(outcome)
        return out


def ranked_backends(inferred: InferredTypes) -> list[InferredRulesBackend]:
    return [InferredRulesBackend(inferred, rank) for rank in range(inferred.limit)]
