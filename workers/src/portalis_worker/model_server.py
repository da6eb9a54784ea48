"""The pod's model server (the Triton sidecar) as one shard sees it: wait for it, ride out its restarts,
and say plainly when it is gone.

A native sidecar may start after the worker (the node agent starts the worker once the sidecar's process
runs, not once it is ready) and may be restarted mid-run (crash, OOM kill). Either way the kubelet brings
it back, so a failed request is not the end: `ModelServer.call` retries it with backoff until the server
answers again or `wait_seconds` pass. Only then the job's `spec.model.fallback` decides:

- `none` (the default): raise `ModelUnavailable` (the server never answered) or `ModelNotServed` (it
  answered, but without the model). The worker exits with WorkerExit.MODEL_UNAVAILABLE (retried) or
  WorkerExit.MODEL_NOT_SERVED (permanent), and the operator's condition says which.
- `rules`: the shard goes on without the model for the rest of its run (`fell_back`); the log says so.

Waiting instead of degrading batch by batch keeps a job's output independent of when a sidecar died:
every unit gets the model's candidates, or the job says it did not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from portalis_worker.assignment import ModelFallback

LOG = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0


class ModelServerError(RuntimeError):
    """The model server cannot be used and the job does not allow going on without it."""


class ModelUnavailable(ModelServerError):
    """The server did not answer within the wait (down, crash-looping, never started)."""


class ModelNotServed(ModelServerError):
    """The server answers but does not serve the model (wrong name, a repository without it)."""


class ModelStopped(ModelServerError):
    """The worker was asked to stop while it waited for the server (not a failure: resume)."""


class ModelServer:
    """Waits for and retries one model server on behalf of a shard (module docstring).

    `is_not_served(exc)` tells a missing model from an unreachable server; `is_refusal(exc)` marks an
    answer that refuses this one request (a bad input): it is raised as it is, at once, since waiting
    cannot change it and the server is there (the caller decides: the type model's callers lose that
    batch's candidates, typed_rules.py). `clock` and `sleep` are injected so that tests need no real
    time; `stop` cuts a wait short (SIGTERM)."""

    def __init__(
        self,
        what: str,
        wait_seconds: float,
        fallback: ModelFallback,
        *,
        is_not_served: Callable[[Exception], bool] = lambda exc: False,
        is_refusal: Callable[[Exception], bool] = lambda exc: False,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.what = what
        self.wait_seconds = wait_seconds
        self.fallback = fallback
        self.is_not_served = is_not_served
        self.is_refusal = is_refusal
        self.stop = stop or threading.Event()
        self.clock = clock
        self.sleep = sleep or self._wait
        self.fell_back = False
        self.outages = 0
        """Failed requests the server recovered from (or did not)."""

    def _wait(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def call(self, request: Callable[[], T]) -> T | None:
        """`request()`'s answer, retried through an outage; None once the shard fell back to rules."""
        if self.fell_back:
            return None
        try:
            return request()
        except Exception as exc:  # any other failure: the server may be restarting
            if self.is_refusal(exc):
                raise
            first = exc
        self.outages += 1
        LOG.warning(
            "model server failed; waiting for it",
            extra={"model": self.what, "wait_s": self.wait_seconds, "error": _words(first)},
        )
        deadline = self.clock() + self.wait_seconds
        delay = BACKOFF_INITIAL_S
        last = first
        while self.clock() < deadline:
            if self.stop.is_set():
                raise ModelStopped(f"stopped while waiting for the model server ({self.what})")
            self.sleep(min(delay, max(0.0, deadline - self.clock())))
            delay = min(delay * 2, BACKOFF_MAX_S)
            if self.stop.is_set():
                raise ModelStopped(f"stopped while waiting for the model server ({self.what})")
            try:
                answer = request()
            except Exception as exc:
                if self.is_refusal(exc):
                    raise
                last = exc
                continue
            LOG.info("model server answers again", extra={"model": self.what})
            return answer
        self._give_up(last)
        return None

    def wait_ready(self, probe: Callable[[], object]) -> bool:
        """At start: wait until `probe()` succeeds. True when the server is ready, False when the shard
        goes on without it (fallback `rules`); raises `ModelServerError` otherwise."""
        return self.call(lambda: probe() or True) is not None

    def _give_up(self, last: Exception) -> None:
        waited = f"within {self.wait_seconds:.0f} s"
        if self.is_not_served(last):
            message = f"the model server does not serve {self.what} ({waited}): {_words(last)}"
            error: ModelServerError = ModelNotServed(message)
        else:
            message = f"the model server did not answer for {self.what} {waited}: {_words(last)}"
            error = ModelUnavailable(message)
        if self.fallback is ModelFallback.RULES:
            self.fell_back = True
            LOG.warning(
                "going on without the model (spec.model.fallback: rules)",
                extra={"model": self.what, "error": message},
            )
            return None
        raise error


class GuardedTypeModel:
    """A type model client (typed_rules.TypeModelClient) whose requests go through a `ModelServer`.

    After a fallback it answers every slot with no candidates: the rules alone rank them."""

    def __init__(self, client: TypeModel, server: ModelServer) -> None:
        self.client = client
        self.server = server

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]:
        answer = self.server.call(lambda: self.client.infer_types(slots, timeout_s))
        return [[] for _ in slots] if answer is None else answer


class GuardedTranslator:
    """A translation model client (backends.ModelClient) whose requests go through a `ModelServer`.

    `backend: model` has no rules to fall back on mid-run: a fallback there ends the run as unavailable
    (the retried pod then starts as rules-only, `wait_ready` decides at start)."""

    def __init__(self, client: Translator, server: ModelServer) -> None:
        self.client = client
        self.server = server

    def translate_batch(self, sources: list[str]) -> list[str]:
        answer = self.server.call(lambda: self.client.translate_batch(sources))
        if answer is None:
            raise ModelUnavailable(f"the model server stopped answering for {self.server.what}")
        return answer


class TypeModel(Protocol):
    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]: ...


class Translator(Protocol):
    def translate_batch(self, sources: list[str]) -> list[str]: ...


def _words(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
