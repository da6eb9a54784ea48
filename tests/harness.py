"""Test helpers shared by every layer: polling waits, object builders for the cluster, the operator runner.

Waits poll a predicate until it holds and, on timeout, report what they last saw; no test sleeps a
fixed time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A wait ran out; the message carries the last value or error the predicate produced."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
    describe: Callable[[], object] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy and return that; else raise WaitTimeout.

    Exceptions raised by the predicate count as "not yet" and are reported if time runs out.
    `describe`, when given, is called on timeout to add context (e.g. the object's current state).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
            last = value
            if value:
                return value
        except Exception as exc:  # reported on timeout
            last = exc
        if time.monotonic() >= deadline:
            extra = ""
            if describe is not None:
                with contextlib.suppress(Exception):
                    extra = f"\ncontext: {describe()!r}"
            raise WaitTimeout(
                f"timed out after {timeout:.0f} s waiting for {what}; last saw: {last!r}{extra}"
            )
        time.sleep(interval)


def pod(name: str, gpus: int = 0, **spec: Any) -> dict[str, Any]:
    """A minimal pod manifest; extra keyword arguments go into its spec."""
    container: dict[str, Any] = {"name": "main", "image": "registry.invalid/portalis/test:0"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


@contextlib.contextmanager
def operator_running(namespace: str, module: str = "portalis_operator.handlers") -> Iterator[Any]:
    """Run the operator in-process (kopf's KopfRunner) watching one namespace, and check it exits cleanly."""
    from kopf.testing import KopfRunner

    with KopfRunner(["run", "--standalone", "--namespace", namespace, "-m", module]) as runner:
        yield runner
    assert runner.exception is None, runner.exception
    assert runner.exit_code == 0, runner.output
