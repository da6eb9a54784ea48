"""Starting an admitted job's workers: how long it may hold GPUs with no worker running, what its pods
wait for, and how soon a refused pod create is tried again.

An admitted job holds its GPUs from admission on. Pods that never start (a missing PVC, an image that
cannot be pulled, a node that never takes them, Triton failing its startup probe) or that the API server
refuses to create (ResourceQuota, LimitRange, Pod Security) used to hold them forever, with nothing to
say why. Rules:
- A job admitted `timeout` ago with no worker running since (its Running condition is not True) fails
  with reason StartTimeout; the message names what each shard's pod waits for (the container's waiting
  reason, else why it is not scheduled, else the API server's answer to its create). Its pods are deleted
  and its GPUs released. A job that ran and is recovering is not affected (recovery has its own rules).
- A refused create is retried after an exponential backoff per pod (1 s, 2 s, 4 s, ... at most 5 min),
  instead of at once: a create refused by policy is refused again, and retrying re-ran a whole cycle.
Pure: the clock and the pod status are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_REASON_CHARS = 200
MAX_MESSAGE_CHARS = 1024


@dataclass(frozen=True)
class StartPolicy:
    timeout: timedelta = field(default_factory=lambda: timedelta(minutes=10))
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0


def start_overdue(admitted_at: datetime | None, running: bool, now: datetime, policy: StartPolicy) -> bool:
    """True when the job has held its GPUs for `timeout` since admission without a worker running."""
    return not running and admitted_at is not None and now - admitted_at > policy.timeout


def create_backoff(attempts: int, policy: StartPolicy) -> float:
    """Seconds to wait after the `attempts`-th refused create of one pod (attempts >= 1)."""
    exponent = min(max(attempts, 1) - 1, 30)  # 2**30 s is far past any maximum; no overflow
    return float(min(policy.backoff_base_seconds * 2**exponent, policy.backoff_max_seconds))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


GENERIC_WAITS = ("PodInitializing", "ContainerCreating")
"""Waiting reasons that only say another container comes first: the worker waits PodInitializing while
its Triton sidecar fails its startup probe or crash-loops, and the sidecar's reason is the one to show."""


def waiting_reason(status: Mapping[str, Any]) -> str | None:
    """What a pod that is not running waits for, from its status: a container's waiting reason (a
    specific one before PodInitializing/ContainerCreating, then the worker's first), else the PodScheduled
    condition's reason when it is False, else None."""
    statuses = [
        s
        for s in (*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ()))
        if isinstance(s, Mapping)
    ]
    waits = [
        (s.get("name"), w)
        for s in statuses
        if isinstance(w := (s.get("state") or {}).get("waiting"), Mapping) and w.get("reason")
    ]
    waits.sort(key=lambda nw: (nw[1]["reason"] in GENERIC_WAITS, nw[0] != "worker"))
    for _, waiting in waits:
        message = waiting.get("message")
        return _short(f"{waiting['reason']}: {message}" if message else str(waiting["reason"]))
    for cond in status.get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            reason = cond.get("reason") or "NotScheduled"
            message = cond.get("message")
            return _short(f"{reason}: {message}" if message else str(reason))
    return None


def not_started_message(waits: Mapping[int, str | None], policy: StartPolicy) -> str:
    """The StartTimeout message: the limit, then each shard and what its pod waits for."""
    minutes = policy.timeout.total_seconds() / 60
    parts = [f"shard {s}: {w or 'pending'}" for s, w in sorted(waits.items())]
    message = f"no worker running {minutes:g} minute(s) after admission; " + "; ".join(parts)
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 3] + "..."


@dataclass(frozen=True)
class CreateRefusal:
    """The API server refused to create one pod: how often in a row, when to try again (monotonic
    seconds), and what it said."""

    attempts: int
    retry_at: float
    message: str


def refused(previous: CreateRefusal | None, message: str, now: float, policy: StartPolicy) -> CreateRefusal:
    """The record after one more refusal."""
    attempts = (previous.attempts if previous is not None else 0) + 1
    return CreateRefusal(attempts, now + create_backoff(attempts, policy), _short(message))
