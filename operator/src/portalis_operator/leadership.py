"""One leader election: a coordination.k8s.io Lease, renewed by its own task, that fences leader-only work.

kopf runs standalone on every replica (it watches nothing: cache.py does); the scheduling loop and every
write it makes belong to the Lease holder. The rules, as client-go's leaderelection has them:

- Nobody compares its clock with another replica's. A standby measures a Lease's age by its own
  monotonic clock from the moment it *observed* the record change (holder or resourceVersion); it takes
  over once the record has not changed for `duration`. Clock skew between replicas, however large, is
  therefore harmless; only the rate of the clocks matters.
- The holder leads until `renew_deadline` (< `duration`) after the start of its last successful renewal,
  by its own monotonic clock. A renewal that fails or is late ends leadership then, before any standby can
  have taken over (`duration` after it observed that renewal, which happened after the renewal started).
  `Fence.check` is called before every write: a replica that can no longer renew stops applying.
- Writes carry the resourceVersion read, so two candidates racing for the same Lease cannot both win.

The rule (`decide`) is pure; `LeaseElector` is the I/O around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)


class Action(StrEnum):
    CREATE = "create"  # no lease yet: take it
    RENEW = "renew"  # ours: extend it
    TAKE_OVER = "take-over"  # released, or unchanged for a whole lease duration as we observed it
    FOLLOW = "follow"  # someone else's, changed recently: stand by


@dataclass(frozen=True)
class Observation:
    """The Lease record as this replica last saw it change, and when (its own monotonic clock)."""

    holder: str | None
    version: str  # resourceVersion: every renewal changes it
    duration: float  # the holder's leaseDurationSeconds
    observed_at: float


def decide(seen: Observation | None, me: str, now: float) -> Action:
    """What this replica may do with the Lease, `now` being its own monotonic clock."""
    if seen is None:
        return Action.CREATE
    if seen.holder == me:
        return Action.RENEW
    if not seen.holder or now >= seen.observed_at + seen.duration:
        return Action.TAKE_OVER
    return Action.FOLLOW


def observe(
    previous: Observation | None, holder: str | None, version: str, duration: float, now: float
) -> Observation:
    """The observation after reading the record at `now`: its age restarts only when the record changed."""
    if previous is not None and previous.holder == holder and previous.version == version:
        return previous
    return Observation(holder, version, duration, now)


@dataclass(frozen=True)
class LeaseTiming:
    duration: float = 15.0  # leaseDurationSeconds written into the Lease
    renew_deadline: float = 10.0  # the holder stops applying this long after its last renewal started
    retry_period: float = 2.0  # between rounds

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.duration:
            raise ValueError("need 0 < retry_period < renew_deadline < duration")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class NotLeading(Exception):
    """A leader-only write was attempted without a valid Lease: it is not made."""


class Fence:
    """Leader-only work asks `check()` before each write. Standalone (no election): always open."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._valid_until: float | None = None  # None: no election, always valid

    @classmethod
    def elected(cls, clock: Clock | None = None) -> Fence:
        fence = cls(clock)
        fence._valid_until = float("-inf")
        return fence

    def open(self) -> bool:
        return self._valid_until is None or self.clock.monotonic() < self._valid_until

    def check(self) -> None:
        if not self.open():
            raise NotLeading("this replica does not hold the scheduling Lease")

    def extend_to(self, until: float) -> None:
        self._valid_until = until

    def close(self) -> None:
        self._valid_until = float("-inf")


def _micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Runs the election rounds for one Lease; `fence` tells leader-only work whether it may write."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        me: str,
        timing: LeaseTiming | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.coord = client.CoordinationV1Api(api)
        self.namespace, self.name, self.me = namespace, name, me
        self.timing = timing or LeaseTiming()
        self.clock = clock or SystemClock()
        self.fence = Fence.elected(self.clock)
        self._seen: Observation | None = None
        self._leading = False

    def leading(self) -> bool:
        return self.fence.open()

    async def round(self) -> bool:
        """One acquire-or-renew attempt; True while this replica leads. API errors propagate (the fence
        then simply runs out)."""
        started = self.clock.monotonic()
        try:
            lease = await self.coord.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = None
        if lease is None:
            self._seen = None
        else:
            spec = lease.spec
            self._seen = observe(
                self._seen,
                spec.holder_identity or None,
                lease.metadata.resource_version,
                float(spec.lease_duration_seconds or self.timing.duration),
                started,
            )
        action = decide(self._seen, self.me, self.clock.monotonic())
        if action is Action.FOLLOW:
            return self._set(False)
        wall = self.clock.now()  # informational for humans and tools; no replica decides on it
        spec_body: dict[str, Any] = {
            "holderIdentity": self.me,
            "leaseDurationSeconds": max(1, round(self.timing.duration)),
            "renewTime": _micro(wall),
        }
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        try:
            if action is Action.CREATE:
                spec_body["acquireTime"] = _micro(wall)
                written = await self.coord.create_namespaced_lease(
                    self.namespace, {"metadata": meta, "spec": spec_body}
                )
            else:
                assert lease is not None
                meta["resourceVersion"] = lease.metadata.resource_version
                if action is Action.TAKE_OVER:
                    spec_body["acquireTime"] = _micro(wall)
                    spec_body["leaseTransitions"] = (lease.spec.lease_transitions or 0) + 1
                else:
                    acquired = lease.spec.acquire_time
                    spec_body["acquireTime"] = (
                        _micro(acquired) if isinstance(acquired, datetime) else _micro(wall)
                    )
                    spec_body["leaseTransitions"] = lease.spec.lease_transitions or 0
                written = await self.coord.replace_namespaced_lease(
                    self.name, self.namespace, {"metadata": meta, "spec": spec_body}
                )
        except ApiException as exc:
            if exc.status != 409:  # 409: another replica wrote first; it leads
                raise
            return self._set(False)
        self._seen = Observation(self.me, written.metadata.resource_version, self.timing.duration, started)
        self.fence.extend_to(started + self.timing.renew_deadline)
        return self._set(True)

    def _set(self, leading: bool) -> bool:
        if not leading:
            self.fence.close()
        if leading != self._leading:
            log.info("%s leadership of lease %s/%s", "took" if leading else "lost", self.namespace, self.name)
        self._leading = leading
        return leading

    async def run(self, confirmed: Callable[[bool], None] = lambda _: None) -> None:
        """Rounds every `retry_period` until cancelled; `confirmed(leading)` after each that reached the
        API server. Errors are logged: the fence runs out by itself when renewals keep failing."""
        while True:
            try:
                confirmed(await self.round())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lease %s/%s: round failed: %s", self.namespace, self.name, exc)
                if not self.leading():
                    self._set(False)
            await asyncio.sleep(self.timing.retry_period)

    async def release(self) -> None:
        """On shutdown: give the Lease up so that a standby takes over at once, not after `duration`."""
        if not self.leading():
            return
        self.fence.close()
        self._leading = False
        with contextlib.suppress(ApiException):
            lease = await self.coord.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity != self.me:
                return
            body = {
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "resourceVersion": lease.metadata.resource_version,
                },
                "spec": {
                    "holderIdentity": None,
                    "leaseDurationSeconds": 1,
                    "renewTime": _micro(self.clock.now()),
                    "leaseTransitions": lease.spec.lease_transitions or 0,
                },
            }
            await self.coord.replace_namespaced_lease(self.name, self.namespace, body)
