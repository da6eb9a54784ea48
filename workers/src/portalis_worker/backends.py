"""Translation backends behind one interface, and the chain each backend mode uses.

A backend answers a batch of units with, per unit, Rust text, a `Failure`, or None ("no answer, ask
the next backend"). Chains (docs/api.md, `translation.backend`):

- auto:  cache -> memory -> model -> rules -> rules+types   (the model is skipped when no model client
  is configured)
- model: cache -> model
- rules: cache -> memory -> rules -> rules+types

`memory` is the translation memory (memory.py), when the job has one: a near-duplicate's translation
or the types it was accepted with.

`rules+types` is the rules translator on the unit's typed versions (types inferred for untyped
parameters and returns, typed_rules.py), one backend per rank, best first.

Every candidate is then checked with rustc (rustcheck.py); one that fails moves its unit on to the
next backend in the chain. `BackendUnavailable` (the model server is down) falls through to the next
backend when there is one, and otherwise ends the run as a transient error, so the operator retries
the shard instead of recording every unit as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Protocol

from portalis_worker import metrics
from portalis_worker.assignment import BackendMode
from portalis_worker.model_server import ModelServerError
from portalis_worker.units import Failure, Unit

if TYPE_CHECKING:
    from portalis_worker.rules.package_scope import PackageTranslator

LOG = logging.getLogger(__name__)

Outcome = str | Failure | None


class BackendUnavailable(RuntimeError):
    """The backend cannot answer now (transient): not the units' fault."""


class Backend(Protocol):
    name: str

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        """One outcome per unit, in order. Raises only `BackendUnavailable`."""
        ...


class ModelClient(Protocol):
    """What the worker needs from the Triton client (triton_client.py): Rust for each source, in order.

    Raises on transport errors; a source it cannot translate may come back as an empty string.
    """

    def translate_batch(self, sources: list[str]) -> list[str]: ...


class CacheBackend:
    """Exact-match cache: normalised-AST key -> Rust that already passed the check in this shard."""

    name = "cache"

    def __init__(self, entries: MutableMapping[str, str] | None = None) -> None:
        self.entries: MutableMapping[str, str] = entries if entries is not None else {}

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        out: list[Outcome] = []
        for unit in units:
            hit = self.entries.get(unit.key)
            if hit is not None:
                metrics.CACHE_HITS.inc()
            out.append(hit)
        return out

    def remember(self, key: str, rust: str) -> None:
        self.entries.setdefault(key, rust)


class ModelBackend:
    name = "model"

    def __init__(self, client: ModelClient) -> None:
        self.client = client

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        try:
            answers = self.client.translate_batch([u.source for u in units])
        except ModelServerError:
            raise  # waited for already (model_server.py): the shard ends, the operator is told why
        except Exception as exc:
            raise BackendUnavailable(f"model server: {type(exc).__name__}: {exc}") from exc
        if len(answers) != len(units):
            raise BackendUnavailable(f"model returned {len(answers)} answers for {len(units)} units")
        return [a if a.strip() else Failure("model-error", "the model returned no Rust") for a in answers]


class RulesBackend:
    """The rule-based translator (portalis_worker.rules); deterministic, CPU only."""

    name = "rules"

    def __init__(self, package: PackageTranslator | None = None) -> None:
        self.package = package
        """Package scope (the worker binds it once the source is indexed); None: each unit alone."""

    def translate_batch(self, units: Sequence[Unit]) -> list[Outcome]:
        return [self._one(u) for u in units]

    def _one(self, unit: Unit) -> Outcome:
        from portalis_worker.rules import Unsupported, translate_unit

        try:
            # Formatting happens once per module when the crate is assembled.
            if self.package is not None:
                return self.package.translate_unit(unit.path, unit.source)
            return translate_unit(unit.source, fmt=False)
        except Unsupported as exc:
            return Failure("unsupported", str(exc))
        except SyntaxError as exc:
            return Failure("syntax-error", f"{exc.msg} (line {exc.lineno})")
        except (RecursionError, MemoryError) as exc:
            return Failure("too-deep", f"nesting too deep for the translator ({type(exc).__name__})")
        except Exception as exc:  # a translator bug must fail the unit, not the shard
            LOG.warning(
                "translator error", extra={"unit": unit.name, "path": unit.path, "error": type(exc).__name__}
            )
            return Failure("translate-error", f"{type(exc).__name__}: {exc}")


def build_chain(
    mode: BackendMode,
    cache: CacheBackend,
    model: ModelClient | None,
    rules: Backend | None = None,
    typed: Sequence[Backend] = (),
    memory: Backend | None = None,
) -> list[Backend]:
    """The backends a mode tries, in order. `model` mode without a client is a configuration error.

    `typed`: the rules translator on inferred typings, tried in score order after the plain rules
    (typed_rules.py); rules and auto modes use them, and the translation memory (`memory`), right
    after the exact cache."""
    rules_backend: Backend = rules if rules is not None else RulesBackend()
    first: list[Backend] = [cache] if memory is None else [cache, memory]
    if mode is BackendMode.RULES:
        return [*first, rules_backend, *typed]
    if model is None:
        if mode is BackendMode.MODEL:
            raise ValueError("PORTALIS_BACKEND=model but no model client is configured")
        LOG.info("no model client configured; auto uses cache and rules")
        return [*first, rules_backend, *typed]
    if mode is BackendMode.MODEL:
        return [cache, ModelBackend(model)]
    return [*first, ModelBackend(model), rules_backend, *typed]


def cache_from_records(records: Mapping[str, Mapping[str, object]]) -> dict[str, str]:
    """Rebuild the cache from translated ledger records, in ledger order (first wins)."""
    entries: dict[str, str] = {}
    for record in records.values():
        rust, key = record.get("rust"), record.get("key")
        if record.get("status") == "translated" and isinstance(rust, str) and isinstance(key, str):
            entries.setdefault(key, rust)
    return entries
