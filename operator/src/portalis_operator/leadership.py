"""Leader election with a coordination.k8s.io Lease, so only one replica runs the scheduling loop.

kopf peering pauses a standby replica's watch handlers, but the scheduling loop is our own task; it
must not run on two replicas at once (two schedulers would admit against the same free GPUs). The rule
(`decide`) is pure; `LeaseElector` applies it with optimistic concurrency, so two candidates racing for
an expired lease cannot both win: the second write fails with 409.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)


class Action(StrEnum):
    CREATE = "create"  # no lease yet: take it
    RENEW = "renew"  # ours: extend it
    TAKE_OVER = "take-over"  # someone else's, expired: take it
    FOLLOW = "follow"  # someone else's and fresh: stand by


@dataclass(frozen=True)
class LeaseState:
    holder: str | None
    renewed: datetime | None
    duration: timedelta


def decide(state: LeaseState | None, me: str, now: datetime) -> Action:
    if state is None:
        return Action.CREATE
    if state.holder == me:
        return Action.RENEW
    if not state.holder or state.renewed is None or now >= state.renewed + state.duration:
        return Action.TAKE_OVER
    return Action.FOLLOW


def _micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class LeaseElector:
    def __init__(
        self, api: client.ApiClient, namespace: str, name: str, me: str, duration_s: int = 15
    ) -> None:
        self.coord = client.CoordinationV1Api(api)
        self.namespace, self.name, self.me = namespace, name, me
        self.duration = timedelta(seconds=duration_s)
        self.leader = False

    async def ensure(self) -> bool:
        """Acquire or renew the lease if the rule allows; True while this replica leads."""
        now = datetime.now(UTC)
        try:
            lease = await self.coord.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = None
        state = None
        if lease is not None:
            current = lease.spec
            state = LeaseState(
                holder=current.holder_identity,
                renewed=_parse(current.renew_time),
                duration=timedelta(seconds=current.lease_duration_seconds or self.duration.total_seconds()),
            )
        action = decide(state, self.me, now)
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        spec: dict[str, Any] = {
            "holderIdentity": self.me,
            "leaseDurationSeconds": int(self.duration.total_seconds()),
            "renewTime": _micro(now),
        }
        body = {"metadata": meta, "spec": spec}
        try:
            if action is Action.CREATE:
                spec["acquireTime"] = _micro(now)
                await self.coord.create_namespaced_lease(self.namespace, body)
            elif action in (Action.RENEW, Action.TAKE_OVER):
                assert lease is not None
                meta["resourceVersion"] = lease.metadata.resource_version
                if action is Action.TAKE_OVER:
                    spec["acquireTime"] = _micro(now)
                    spec["leaseTransitions"] = (lease.spec.lease_transitions or 0) + 1
                else:
                    spec["acquireTime"] = _micro(_parse(lease.spec.acquire_time) or now)
                    spec["leaseTransitions"] = lease.spec.lease_transitions or 0
                await self.coord.replace_namespaced_lease(self.name, self.namespace, body)
        except ApiException as exc:
            if exc.status != 409:  # 409: another replica wrote first; it leads
                raise
            action = Action.FOLLOW
        leading = action is not Action.FOLLOW
        if leading != self.leader:
            log.info("%s leadership of lease %s/%s", "took" if leading else "lost", self.namespace, self.name)
        self.leader = leading
        return leading
