"""Liveness and readiness: what each probe means, and the small HTTP server that answers them.

- Liveness (`/livez`, and `/healthz` for older probes): the process is healthy: its event loop answers
  (this handler runs on it) and the scheduling task is still running. Nothing here depends on the API
  server, so an API-server outage never restarts the operator: a restart cannot fix the API server and
  would only put both replicas into CrashLoopBackOff.
- Readiness (`/readyz`): the replica knows its role: it holds the Lease (or runs standalone and a cycle
  completed) or it stands by behind a holder it saw recently, confirmed within `max_age` seconds. Not
  ready while it cannot reach the API server; that takes it out of Service endpoints and holds a
  rollout, and restarts nothing. A loop that runs but fails its cycles is what the
  PortalisOperatorLoopStale alert is for.

The rules are pure (`liveness`, `readiness`); `HealthServer` serves them over HTTP.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from aiohttp import web

Role = Literal["leader", "standby", "standalone"]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


@dataclass(frozen=True)
class HealthState:
    """What the probes read, gathered by the caller. Ages in seconds; None: never happened."""

    scheduler_running: bool
    role: Role | None
    role_confirmed_age: float | None
    last_sync_age: float | None


def liveness(state: HealthState) -> Verdict:
    if not state.scheduler_running:
        return Verdict(False, "the scheduling task has stopped")
    return Verdict(True, "event loop and scheduling task running")


def readiness(state: HealthState, max_age: float) -> Verdict:
    if state.role is None or state.role_confirmed_age is None:
        return Verdict(False, "has not confirmed its role yet (Lease or first cycle)")
    if state.role_confirmed_age > max_age:
        since = f"{state.role_confirmed_age:.0f} s ago"
        return Verdict(False, f"{state.role}: role last confirmed {since} (API server unreachable?)")
    return Verdict(True, f"{state.role}: confirmed {state.role_confirmed_age:.0f} s ago")


def body(verdict: Verdict, state: HealthState) -> dict[str, object]:
    """The JSON answer. `scheduler.synced` keeps the shape of the former kopf probe for its readers."""
    confirmed = state.role_confirmed_age
    return {
        **asdict(verdict),
        "role": state.role,
        "roleConfirmedAgeSeconds": None if confirmed is None else round(confirmed, 1),
        "scheduler": {
            "running": state.scheduler_running,
            "synced": state.last_sync_age is not None,
            "lastSyncAgeSeconds": None if state.last_sync_age is None else round(state.last_sync_age, 1),
        },
    }


class HealthServer:
    """`/livez`, `/healthz` (liveness) and `/readyz` (readiness) on `port`; `state()` is read per request."""

    def __init__(self, port: int, state: Callable[[], HealthState], ready_max_age: float) -> None:
        self.port = port
        self.state = state
        self.ready_max_age = ready_max_age
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "0.0.0.0") -> None:
        app = web.Application()
        app.router.add_get("/livez", self._live)
        app.router.add_get("/healthz", self._live)
        app.router.add_get("/readyz", self._ready)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _live(self, _: web.Request) -> web.Response:
        state = self.state()
        return _answer(liveness(state), state)

    async def _ready(self, _: web.Request) -> web.Response:
        state = self.state()
        return _answer(readiness(state, self.ready_max_age), state)


def _answer(verdict: Verdict, state: HealthState) -> web.Response:
    return web.Response(
        status=200 if verdict.ok else 503,
        text=json.dumps(body(verdict, state)),
        content_type="application/json",
    )


def age(monotonic_at: float | None) -> float | None:
    return None if monotonic_at is None else max(0.0, time.monotonic() - monotonic_at)
