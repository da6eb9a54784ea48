"""Kubernetes Event bodies (core/v1) for transitions of our objects, and how many of them one object may
get. Pure: the caller posts them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portalis_operator.api import GROUP, VERSION

COMPONENT = "portalis-operator"


def event_body(
    kind: str,
    name: str,
    uid: str | None,
    type_: str,
    reason: str,
    message: str,
    now: datetime,
    namespace: str,
    object_namespace: str | None = None,
    resource_version: str | None = None,
) -> dict[str, Any]:
    """An Event in `namespace` about `kind/name` (cluster-scoped objects have no object_namespace)."""
    involved: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "name": name, "uid": uid}
    if object_namespace is not None:
        involved["namespace"] = object_namespace
    if resource_version is not None:
        involved["resourceVersion"] = resource_version
    return {
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
        "involvedObject": involved,
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": "portalis.dev/operator",
        "reportingInstance": COMPONENT,
        "firstTimestamp": now.isoformat(),
        "lastTimestamp": now.isoformat(),
        "count": 1,
    }


@dataclass
class EventBudget:
    """client-go's spam filter for Events: a token bucket per involved object (`burst` Events at once,
    then one per `refill_seconds`), so a job that flaps cannot flood the API server with Events. A job
    that only moves forward (Queued, Admitted, Running, Succeeded) never comes near it. `now` is a
    monotonic clock reading, passed in."""

    burst: int = 25
    refill_seconds: float = 300.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def allow(self, key: str, now: float) -> bool:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.refill_seconds)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 4 * self.burst * 1000:
            self.prune(now)
        return True

    def prune(self, now: float) -> None:
        """Forget objects whose bucket is full again (they behave as if never seen)."""
        full = self.burst * self.refill_seconds
        self._buckets = {
            k: v for k, v in self._buckets.items() if (now - v[1]) + v[0] * self.refill_seconds < full
        }
