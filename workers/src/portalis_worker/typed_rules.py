"""The rules translator on typed versions of a unit: the types that untyped Python leaves out.

`InferredTypes` computes, once per unit, the typed versions of its source that type inference
(`portalis_worker.typeinfer`) ranks best, at most `MAX_TRIES`. The chain gets one
`InferredRulesBackend` per rank after the plain rules backend: a unit whose source translates as
written never reaches them; one that does not (an untyped parameter) is offered its best typing,
and when the file's rustc check rejects that translation the pipeline moves the unit on to the next
rank, so candidates are tried in score order through rustc, a bounded number of times.

With a type model (the `typer` on the pod's Triton, model/typer.py), its top-k candidates for each
open slot are merged with the rules' before ranking: the model ranks what the rules leave open.

`InferredTypes.take(unit_id)` says which types the accepted translation was given and how each was
found (`docstring`, `usage`, `call-site`, `name`, `default`: the rules; `model`: the type model),
for the unit's ledger record and the report.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from portalis_worker.backends import Outcome, RulesBackend
from portalis_worker.model.typer_features import slot_texts
from portalis_worker.model_server import ModelServerError
from portalis_worker.typeinfer import Candidate, Slot, Typing, infer, typings
from portalis_worker.typeinfer.inference import functions
from portalis_worker.typeinfer.terms import of_annotation
from portalis_worker.typeinfer.trials import MAX_TRIES
from portalis_worker.units import Failure, Unit

if TYPE_CHECKING:
    from portalis_worker.rules.package_scope import PackageTranslator

LOG = logging.getLogger(__name__)

NAME = "rules+types"
BLOCKED = "\0blocked"

TypesRecord = dict[str, dict[str, str | float]]
"""`function.param` (or `function.<return>`) -> {type, source, score}: the ledger's `types` field."""


class TypeModelClient(Protocol):
    """The type model's server (triton_client.TritonClient.infer_types): top-k (type, score) per slot
    text, in order. Raises on transport errors."""

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]: ...


class InferredTypes:
    """Typed versions per unit, shared by the rank backends; which rank each unit was offered last.

    With a type model, `prepare` asks it once per batch of units for the candidates of every open
    slot, and ranking merges them with the rules' (typeinfer.ranking.merge). The worker's model is a
    `model_server.GuardedTypeModel`: it waits for a restarting server and raises `ModelServerError`
    when the job does not allow going on without it (that ends the shard). Any other client error
    costs only that batch its model candidates (`model_failures` counts it, and the log says why)."""

    def __init__(
        self,
        limit: int = MAX_TRIES,
        model: TypeModelClient | None = None,
        model_gone: Callable[[], bool] = lambda: False,
    ) -> None:
        self.limit = limit
        self.model = model
        self.model_gone = model_gone
        """True once the shard went on without its model server (model_server.ModelServer.fell_back)."""
        self.model_calls = 0
        self.model_failures = 0
        self._without_model: set[str] = set()
        """Units whose typings were computed after the model was gone: the rules' candidates alone."""
        self._typings: dict[str, list[Typing]] = {}
        self._offered: dict[str, int] = {}
        self._rejected: dict[str, str] = {}
        """The translator's last rejection of each unit's typings; the same one twice means the unit is
        blocked by something types do not change, and its later ranks are not tried."""

    def prepare(self, units: Sequence[Unit]) -> None:
        """Compute the typings of `units` not seen yet (one model request for all of them)."""
        todo: list[tuple[Unit, ast.Module]] = []
        for unit in units:
            if unit.id in self._typings:
                continue
            try:
                todo.append((unit, ast.parse(unit.source)))
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                self._typings[unit.id] = []
        answers = self._ask_model([tree for _, tree in todo])
        if self.model is not None and self.model_gone():
            self._without_model.update(unit.id for unit, _ in todo)
        for (unit, _), model in zip(todo, answers, strict=True):
            try:
                self._typings[unit.id] = typings(unit.source, self.limit, model)
            except (SyntaxError, RecursionError, MemoryError):
                self._typings[unit.id] = []

    def options(self, unit: Unit) -> list[Typing]:
        self.prepare([unit])
        return self._typings[unit.id]

    def _ask_model(self, trees: Sequence[ast.Module]) -> list[dict[Slot, list[Candidate]] | None]:
        if self.model is None or not trees:
            return [None] * len(trees)
        asked = [open_slot_texts(tree) for tree in trees]
        texts = [text for slots in asked for _, text in slots]
        if not texts:
            return [None] * len(trees)
        self.model_calls += 1
        try:
            ranked = self.model.infer_types(texts)
        except ModelServerError:
            raise  # waited for already (model_server.py): the job does not allow going on without it
        except Exception as exc:  # a model client without a ModelServer: rules only for this batch
            self.model_failures += 1
            LOG.warning(
                "type model unavailable; rules-only types", extra={"error": f"{type(exc).__name__}: {exc}"}
            )
            return [None] * len(trees)
        out: list[dict[Slot, list[Candidate]] | None] = []
        answers = iter(ranked)
        for slots in asked:
            out.append({slot: model_candidates(next(answers)) for slot, _ in slots})
        return out

    def offered(self, unit_id: str, rank: int) -> None:
        self._offered[unit_id] = rank

    def rejected(self, unit_id: str, message: str) -> None:
        """The translator rejected a typing of `unit_id`; the same rejection twice blocks the unit."""
        if self._rejected.get(unit_id) == message:
            self._rejected[unit_id] = BLOCKED
        elif self._rejected.get(unit_id) != BLOCKED:
            self._rejected[unit_id] = message

    def blocked(self, unit_id: str) -> bool:
        return self._rejected.get(unit_id) == BLOCKED

    def without_model(self, unit_id: str) -> bool:
        """Whether `unit_id` was typed without the model because its server was gone; forgets it."""
        if unit_id in self._without_model:
            self._without_model.discard(unit_id)
            return True
        return False

    def take(self, unit_id: str) -> TypesRecord | None:
        """The types of the translation last offered for `unit_id` (None: none was offered); forgets
        the unit."""
        options = self._typings.pop(unit_id, [])
        self._rejected.pop(unit_id, None)
        rank = self._offered.pop(unit_id, None)
        if rank is None or rank >= len(options):
            return None
        return types_record(options[rank].chosen)


def typed_for_index(source: str) -> str:
    """`source` with the rules' best typing written in, for the package index (the source itself when
    nothing needs a type or it does not parse).

    The index is what package-scope translation reads a unit's dependencies from: with the inferred
    types in it, a caller of an untyped function of another module translates against those types
    instead of failing on the untyped dependency. Rules only (no model), so every shard builds the
    same index; when rustc later accepts a dependency only at another rank, the caller's call no
    longer matches and the module check fails it, as any other caller of a broken definition."""
    try:
        best = typings(source, 1)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return source
    return best[0].source if best else source


def open_slot_texts(tree: ast.Module) -> list[tuple[Slot, str]]:
    """The model's input text of each slot of `tree` that needs a type."""
    open_slots = infer(tree).open
    if not open_slots:
        return []
    out = []
    for qualname, func, params in functions(tree):
        for text in slot_texts(func, qualname, params):
            slot = Slot(qualname, text.name)
            if slot in open_slots:
                out.append((slot, text.text))
    return out


def model_candidates(answer: Sequence[tuple[str, float]]) -> list[Candidate]:
    """The model's (type, score) pairs as candidates; a label inference cannot read is dropped."""
    out = []
    for label, score in answer:
        try:
            term = of_annotation(ast.parse(label, mode="eval").body)
        except SyntaxError:
            continue
        if term.complete:
            out.append(Candidate(term, score, "model"))
    return out


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
        self.inferred.prepare(units)
        out: list[Outcome] = []
        for unit in units:
            options = self.inferred.options(unit)
            if self.rank >= len(options) or self.inferred.blocked(unit.id):
                out.append(None)
                continue
            outcome = self._one(dataclasses.replace(unit, source=options[self.rank].source))
            if isinstance(outcome, str):
                self.inferred.offered(unit.id, self.rank)
            elif isinstance(outcome, Failure):
                self.inferred.rejected(unit.id, outcome.message)
            out.append(outcome)
        return out


def ranked_backends(inferred: InferredTypes) -> list[InferredRulesBackend]:
    return [InferredRulesBackend(inferred, rank) for rank in range(inferred.limit)]
