"""Translating the pending units of one file: backend chain, rustc check, fallback.

A file is the unit of checking (its units form one Rust module) and of group commit (its results are
appended to the ledger together). Rounds: every unit without a candidate asks the next backend of its
chain; then the whole module (the file's units already in the ledger plus all candidates) is checked
once; units whose candidates broke it move on to their next backend; repeat until it compiles. A
unit that runs out of backends fails with the last reason. Each round removes or replaces at least
one candidate, so the rounds are bounded by units x chain length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from portalis_worker.backends import Backend, BackendUnavailable, Outcome
from portalis_worker.rustcheck import CheckAborted, Checker
from portalis_worker.units import Failure, Unit

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    unit: Unit
    backend: str | None
    rust: str | None
    failure: Failure | None

    @property
    def translated(self) -> bool:
        return self.failure is None


class Stopped(Exception):
    """The worker was asked to stop; the file's in-flight units are abandoned (redone on resume)."""


def translate_file(
    units: Sequence[Unit],
    chain: Sequence[Backend],
    checker: Checker | None,
    context: Sequence[tuple[int, str]] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Result]:
    """Results for `units` (in their order). `context` is (order, rust) of the file's units done before.

    Raises `Stopped` when `should_stop()` turns true, and `BackendUnavailable` when the last backend
    of the chain is unavailable.
    """
    results: dict[str, Result] = {}
    position: dict[str, int] = {}
    last_failure: dict[str, Failure] = {}
    candidates: dict[str, tuple[str, str]] = {}
    for unit in units:
        if unit.failure is not None:
            results[unit.id] = Result(unit, None, None, unit.failure)
        else:
            position[unit.id] = 0
    by_id = {u.id: u for u in units}

    def give_up(unit: Unit) -> None:
        failure = last_failure.get(unit.id, Failure("unsupported", "no backend produced a translation"))
        results[unit.id] = Result(unit, None, None, failure)

    def fill(need: list[Unit]) -> None:
        while need:
            if should_stop():
                raise Stopped
            step = position[need[0].id]
            batch = [u for u in need if position[u.id] == step]
            backend = chain[step]
            try:
                outcomes: list[Outcome] = backend.translate_batch(batch)
            except BackendUnavailable as exc:
                if step == len(chain) - 1:
                    raise
                LOG.warning(
                    "backend unavailable; falling back", extra={"backend": backend.name, "error": str(exc)}
                )
                outcomes = [Failure("model-error", str(exc))] * len(batch)
            for unit, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, str):
                    candidates[unit.id] = (backend.name, outcome)
                    continue
                if isinstance(outcome, Failure):
                    last_failure[unit.id] = outcome
                position[unit.id] += 1
                if position[unit.id] >= len(chain):
                    give_up(unit)
            need = [u for u in need if u.id not in candidates and u.id not in results]

    need = [u for u in units if u.id in position]
    while True:
        fill(need)
        if checker is None or not candidates:
            break
        if should_stop():
            raise Stopped
        parts = sorted(
            [(order, "", rust) for order, rust in context]
            + [(by_id[uid].order, uid, rust) for uid, (_, rust) in candidates.items()]
        )
        try:
            errors = checker.check([(owner, rust) for _, owner, rust in parts], units[0].path)
        except CheckAborted as exc:
            # A pathological file (a timeout, a compiler crash): its pending units fail (no next backend:
            # another candidate would likely do the same), and the shard goes on with the next file.
            LOG.warning(
                "rustc check aborted; the file's pending units fail",
                extra={"path": units[0].path, "error": str(exc)},
            )
            for uid in candidates:
                last_failure[uid] = Failure(exc.reason, str(exc))
                give_up(by_id[uid])
            candidates.clear()
            break
        broken = [uid for uid in errors if uid in candidates]
        if not broken and errors:
            # Errors that name no candidate (no primary span, a span in the context or a dependency):
            # the module does not compile, so something here is not a translation. Ask rustc which.
            errors = _culprits(
                checker,
                context,
                {u: (by_id[u].order, r) for u, (_, r) in candidates.items()},
                units[0].path,
                next(iter(errors.values())),
            )
            LOG.warning(
                "rustc errors not attributable to a candidate; failing the candidates that cause them",
                extra={"path": units[0].path, "units": sorted(errors)},
            )
            broken = list(errors)
        if not broken:
            break
        need = []
        for uid in broken:
            unit = by_id[uid]
            del candidates[uid]
            last_failure[uid] = Failure("rustc", errors[uid])
            position[uid] += 1
            if position[uid] >= len(chain):
                give_up(unit)
            else:
                need.append(unit)
        need.sort(key=lambda u: u.order)
    for uid, (backend_name, rust) in candidates.items():
        results[uid] = Result(by_id[uid], backend_name, rust, None)
    return [results[u.id] for u in units]


def _culprits(
    checker: Checker,
    context: Sequence[tuple[int, str]],
    candidates: dict[str, tuple[int, str]],
    path: str,
    unmapped: str,
) -> dict[str, str]:
    """Errors by candidate for a module whose errors named none: each candidate checked alone with the
    context; when none fails alone, they fail together (with the unmapped error). One rustc run per
    candidate, only on this rare path."""
    found: dict[str, str] = {}
    for uid, (order, rust) in candidates.items():
        parts = sorted([(o, "", r) for o, r in context] + [(order, uid, rust)])
        try:
            alone = checker.check([(owner, r) for _, owner, r in parts], path)
        except CheckAborted as exc:
            alone = {uid: str(exc)}
        if alone:
            found[uid] = alone.get(uid) or next(iter(alone.values()))
    return found or {uid: unmapped for uid in candidates}
