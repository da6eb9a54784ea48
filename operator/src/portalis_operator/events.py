"""Kubernetes Event bodies (core/v1) for transitions of our objects. Pure: the caller posts them."""

from __future__ import annotations

import uuid
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
