"""Which of the loop's writes go first. Two kinds share the API server: the admission path (a status
that records a placement, then the workers' pods: what the next job waits for) and reports (Events,
Running and progress statuses: what a person reads). Under a burst of submissions the reports wait
until the admission path is idle, and at most `max_defer` seconds after they were queued, so the API
server's capacity goes to admissions first (API Priority and Fairness does the same between clients,
not within one). Measured in benchmarks/README.md: a report is 3 of the 7 writes an admitted job costs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

MAX_DEFER_SECONDS = 30.0
"""A report is written at the latest this long after it was queued, whatever the admission path does:
under a sustained stream of submissions, Events and statuses still move."""


class AdmissionFirst:
    """`admitting()` around every admission-path write; `report_turn(queued_at)` before every report.
    `monotonic`: the clock `queued_at` was read from (injected in tests)."""

    def __init__(self, monotonic: Callable[[], float], max_defer: float = MAX_DEFER_SECONDS) -> None:
        self.monotonic = monotonic
        self.max_defer = max_defer
        self._admitting = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """Some admission-path write is queued or in flight."""
        return self._admitting > 0

    @contextlib.contextmanager
    def admitting(self) -> Iterator[None]:
        self._admitting += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._admitting -= 1
            if self._admitting == 0:
                self._idle.set()

    async def report_turn(self, queued_at: float) -> None:
        """Return once the admission path is idle, or once the report has waited `max_defer` seconds."""
        while self._admitting > 0:
            left = queued_at + self.max_defer - self.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=left)
