"""The words a job's conditions and events use for waits, node trouble and worker exits. Pure."""

from __future__ import annotations

from portalis_operator.admission import Waiting, WaitReason
from portalis_operator.recovery import (
    PodAction,
    Signal,
    describe_exit,
)
from portalis_operator.snapshot import PodView


def wait_message(w: Waiting) -> str:
    where = f"position {w.position} in the queue" if w.position is not None else "in the queue"
    extra = f"; blocked by {w.blocked_by}" if w.blocked_by else ""
    return f"{where}: {w.reason.value}{extra}"


def waiting_words(decision: Waiting) -> str:
    """The Queued condition's message for a waiting job."""
    if decision.reason is WaitReason.OUTPUT_PATH_IN_USE:
        return (
            f"spec.output: the path overlaps that of job {decision.blocked_by}, which holds it; "
            "waiting until it finishes or is deleted"
        )
    return decision.message or wait_message(decision)


def start_wait(pod: PodView | None, refusal: str | None) -> str | None:
    if pod is None:
        return f"pod not created: {refusal}" if refusal else "pod not created yet"
    return pod.waiting or (f"pod {pod.phase}" if pod.phase != "Pending" else None)


def trouble_words(a: PodAction) -> str:
    what = {
        Signal.TAINT: "received an interruption notice",
        Signal.DELETED: "was deleted",
        Signal.NOT_READY: "was NotReady beyond its grace period",
        Signal.STOPPED: "stopped the worker (node shutdown or eviction); it resumes from its checkpoint",
    }
    return f"node {a.node} {what.get(a.signal, 'was lost') if a.signal else 'was lost'}"


def exit_words(pod: PodView | None) -> str:
    if pod is None:
        return "no exit code"
    parts = []
    if pod.exit_code is not None:
        parts.append(describe_exit(pod.exit_code))
    if pod.reason:
        parts.append(pod.reason)
    return ", ".join(parts) or "no exit code"
