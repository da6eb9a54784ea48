"""The model server as a shard sees it (model_server.py): waiting for it, riding out a restart, and what
happens when it does not come back, with and without `spec.model.fallback: rules`.

Pure logic on an injected clock: the fake sleep advances the clock, so no test waits in real time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from portalis_worker.assignment import ModelFallback
from portalis_worker.model_server import (
    GuardedTranslator,
    GuardedTypeModel,
    ModelNotServed,
    ModelServer,
    ModelServerError,
    ModelStopped,
    ModelUnavailable,
)
from portalis_worker.typed_rules import InferredTypes
from portalis_worker.units import split_source

pytestmark = pytest.mark.unit


class Down(Exception):
    """The server refused the connection."""


class Missing(Exception):
    """The server answered without the model."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def server(
    wait: float = 60.0, fallback: ModelFallback = ModelFallback.NONE, stop: threading.Event | None = None
) -> tuple[ModelServer, Clock]:
    clock = Clock()
    srv = ModelServer(
        "the type model",
        wait,
        fallback,
        is_not_served=lambda exc: isinstance(exc, Missing),
        stop=stop,
        clock=clock,
        sleep=clock.sleep,
    )
    return srv, clock


def failing(times: int, error: Exception, answer: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A request that raises `error` the first `times` calls, then answers."""
    calls = [0]

    def request() -> str:
        calls[0] += 1
        if calls[0] <= times:
            raise error
        return answer

    return request, calls


def test_an_answering_server_is_asked_once() -> None:
    srv, clock = server()
    request, calls = failing(0, Down())
    assert srv.call(request) == "ok"
    assert (calls[0], srv.outages, clock.slept) == (1, 0, [])


def test_a_restart_is_waited_out_and_the_request_answered() -> None:
    srv, clock = server(wait=60)
    request, calls = failing(4, Down("connection refused"))
    assert srv.call(request) == "ok"
    assert calls[0] == 5
    assert srv.outages == 1
    assert not srv.fell_back
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]  # backoff, capped at 5 s


def test_a_server_that_never_answers_ends_the_shard_naming_the_wait_and_the_error() -> None:
    srv, clock = server(wait=30)
    request, _ = failing(10**6, Down("connection refused"))
    with pytest.raises(
        ModelUnavailable, match=r"did not answer for the type model within 30 s: Down: connection"
    ):
        srv.call(request)
    assert 30 <= clock.now <= 30 + 5


def test_a_server_without_the_model_is_not_served_rather_than_unavailable() -> None:
    srv, _ = server(wait=10)
    request, _ = failing(10**6, Missing("unknown model 'typer'"))
    with pytest.raises(ModelNotServed, match="does not serve the type model"):
        srv.call(request)


def test_the_last_error_decides_a_server_that_came_up_without_the_model() -> None:
    srv, _ = server(wait=10)
    errors = iter([Down(), Down()])

    def request() -> str:
        raise next(errors, Missing("unknown model"))

    with pytest.raises(ModelNotServed):
        srv.call(request)


def test_fallback_rules_goes_on_without_the_model_and_stops_asking() -> None:
    srv, _ = server(wait=5, fallback=ModelFallback.RULES)
    request, calls = failing(10**6, Down())
    assert srv.call(request) is None
    assert srv.fell_back
    asked = calls[0]
    assert srv.call(request) is None
    assert calls[0] == asked  # not asked again


def test_a_zero_wait_gives_up_after_the_first_failure() -> None:
    srv, clock = server(wait=0, fallback=ModelFallback.RULES)
    request, calls = failing(10**6, Down())
    assert srv.call(request) is None
    assert (calls[0], clock.slept) == (1, [])


class BadInput(Exception):
    """The server answered: this request is invalid."""


def test_a_refused_request_is_raised_at_once_without_waiting() -> None:
    clock = Clock()
    srv = ModelServer(
        "the type model",
        60,
        ModelFallback.NONE,
        is_refusal=lambda exc: isinstance(exc, BadInput),
        clock=clock,
        sleep=clock.sleep,
    )
    request, calls = failing(10**6, BadInput("INVALID_ARG"))
    with pytest.raises(BadInput):
        srv.call(request)
    assert (calls[0], clock.slept, srv.outages, srv.fell_back) == (1, [], 0, False)
    # after a restart, too: a refusal during the wait ends it
    errors = iter([Down(), BadInput()])
    srv2 = ModelServer(
        "x",
        60,
        ModelFallback.NONE,
        is_refusal=lambda e: isinstance(e, BadInput),
        clock=clock,
        sleep=clock.sleep,
    )

    def flaky() -> str:
        raise next(errors)

    with pytest.raises(BadInput):
        srv2.call(flaky)


def test_inferred_types_lose_one_batch_to_a_refused_request() -> None:
    """A refusal is not an outage: the batch goes on with the rules' candidates (model_failures)."""

    class Refusing:
        def infer_types(
            self, slots: Sequence[str], timeout_s: float | None = None
        ) -> list[list[tuple[str, float]]]:
            raise BadInput("INVALID_ARG")

    (unit,) = split_source("m.py", UNTYPED)
    srv = ModelServer("t", 60, ModelFallback.NONE, is_refusal=lambda e: isinstance(e, BadInput))
    inferred = InferredTypes(model=GuardedTypeModel(Refusing(), srv))
    inferred.prepare([unit])
    assert inferred.model_failures == 1
    assert inferred.options(unit)


def test_a_stop_cuts_the_wait_short() -> None:
    stop = threading.Event()
    srv, clock = server(wait=600, stop=stop)

    def request() -> str:
        if clock.now > 3:
            stop.set()
        raise Down()

    with pytest.raises(ModelStopped):
        srv.call(request)
    assert clock.now < 20


def test_wait_ready_says_whether_the_shard_has_a_model() -> None:
    up, _ = server()
    assert up.wait_ready(lambda: None) is True
    down, _ = server(wait=1, fallback=ModelFallback.RULES)
    request, _ = failing(10**6, Down())
    assert down.wait_ready(request) is False
    strict, _ = server(wait=1)
    with pytest.raises(ModelUnavailable):
        strict.wait_ready(request)


class FlakyTyper:
    """A type model that is down for its first `down` requests; answers `str` for every slot."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.calls = 0

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]:
        self.calls += 1
        if self.calls <= self.down:
            raise Down("connection refused")
        return [[("str", 0.9), ("int", 0.1)] for _ in slots]


def test_guarded_type_model_answers_after_a_restart_and_with_nothing_after_a_fallback() -> None:
    srv, _ = server(wait=60)
    assert GuardedTypeModel(FlakyTyper(down=3), srv).infer_types(["a", "b"]) == [
        [("str", 0.9), ("int", 0.1)],
        [("str", 0.9), ("int", 0.1)],
    ]
    gone, _ = server(wait=1, fallback=ModelFallback.RULES)
    assert GuardedTypeModel(FlakyTyper(down=10**6), gone).infer_types(["a", "b"]) == [[], []]


def test_guarded_translator_has_no_rules_to_fall_back_on_mid_run() -> None:
    gone, _ = server(wait=1, fallback=ModelFallback.RULES)

    class Dead:
        def translate_batch(self, sources: list[str]) -> list[str]:
            raise Down()

    with pytest.raises(ModelUnavailable):
        GuardedTranslator(Dead(), gone).translate_batch(["def f(): pass"])


UNTYPED = "def shout(word):\n    return word.upper() + '!'\n"


def test_inferred_types_lets_an_unusable_server_end_the_shard() -> None:
    """A plain client error costs a batch its model candidates; a ModelServerError is not swallowed."""
    (unit,) = split_source("m.py", UNTYPED)
    srv, _ = server(wait=1)
    inferred = InferredTypes(model=GuardedTypeModel(FlakyTyper(down=10**6), srv))
    with pytest.raises(ModelServerError):
        inferred.prepare([unit])
    plain = InferredTypes(model=FlakyTyper(down=10**6))
    plain.prepare([unit])
    assert plain.model_failures == 1
    assert plain.options(unit)


def test_inferred_types_after_a_restart_carry_the_models_candidates() -> None:
    (unit,) = split_source("m.py", UNTYPED)
    srv, _ = server(wait=60)
    inferred = InferredTypes(model=GuardedTypeModel(FlakyTyper(down=2), srv))
    options = inferred.options(unit)
    assert options
    sources = {c.source for typing in options for c in typing.chosen.values()}
    assert "model" in sources, sources
