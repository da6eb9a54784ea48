"""Pod status as a kubelet reports it, computed from what the agent knows about each container (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from portalis_dev.agent.nodes import HOST_IP, k8s_time

ContainerKind = Literal["init", "sidecar", "main"]
State = Literal["waiting", "running", "terminated"]
CONTAINER_ID_SCHEME = "portalis-agent"


@dataclass
class ContainerRecord:
    """What is known about one container of a pod; the worker mutates it, `pod_status` renders it."""

    name: str
    image: str
    kind: ContainerKind
    state: State = "waiting"
    reason: str = "ContainerCreating"
    message: str = ""
    pid: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    restart_count: int = 0
    last_termination: dict[str, Any] | None = None

    def running(self, pid: int, at: datetime) -> None:
        if self.state == "terminated":
            self.last_termination = self.terminated_state()
        self.state, self.pid, self.started_at = "running", pid, at
        self.reason, self.message, self.exit_code, self.finished_at = "", "", None, None

    def terminated(self, code: int, at: datetime, reason: str = "", message: str = "") -> None:
        if self.state == "terminated":
            self.last_termination = self.terminated_state()
        self.state, self.exit_code, self.finished_at = "terminated", code, at
        self.reason = reason or ("Completed" if code == 0 else "Error")
        self.message = message
        if self.started_at is None:
            self.started_at = at

    def waiting(self, reason: str, message: str = "") -> None:
        if self.state == "running":
            return
        if self.state == "terminated":
            self.last_termination = self.terminated_state()
            self.state, self.pid, self.exit_code = "waiting", None, None
        self.reason, self.message = reason, message

    def terminated_state(self) -> dict[str, Any]:
        t: dict[str, Any] = {"exitCode": self.exit_code, "reason": self.reason}
        if self.message:
            t["message"] = self.message
        if self.started_at:
            t["startedAt"] = k8s_time(self.started_at)
        if self.finished_at:
            t["finishedAt"] = k8s_time(self.finished_at)
        if self.pid:
            t["containerID"] = f"{CONTAINER_ID_SCHEME}://{self.pid}"
        return {"terminated": t}

    @property
    def ready(self) -> bool:
        if self.kind == "init":
            return self.state == "terminated" and self.exit_code == 0
        return self.state == "running"


def render_container(r: ContainerRecord) -> dict[str, Any]:
    if r.state == "running":
        assert r.started_at is not None
        state: dict[str, Any] = {"running": {"startedAt": k8s_time(r.started_at)}}
    elif r.state == "terminated":
        state = r.terminated_state()
    else:
        state = {"waiting": {"reason": r.reason, **({"message": r.message} if r.message else {})}}
    out: dict[str, Any] = {
        "name": r.name,
        "image": r.image,
        "imageID": "",
        "state": state,
        "lastState": r.last_termination or {},
        "ready": r.ready,
        "restartCount": r.restart_count,
        "started": r.state == "running",
    }
    if r.pid:
        out["containerID"] = f"{CONTAINER_ID_SCHEME}://{r.pid}"
    return out


def pod_phase(records: Sequence[ContainerRecord], final: bool) -> str:
    """Pending until a main container started; terminal (`final`, decided by the worker) when the
    lifecycle is over: Succeeded if every main container exited 0, else Failed."""
    mains = [r for r in records if r.kind == "main"]
    inits_failed = any(r.kind == "init" and r.state == "terminated" and r.exit_code != 0 for r in records)
    if final:
        ok = not inits_failed and all(r.state == "terminated" and r.exit_code == 0 for r in mains)
        return "Succeeded" if ok else "Failed"
    if any(r.state != "waiting" or r.restart_count for r in mains):
        return "Running"
    return "Pending"


def _condition(
    kind: str, ok: bool, reason: str, previous: Mapping[str, Mapping[str, Any]], at: datetime
) -> dict[str, Any]:
    status = "True" if ok else "False"
    prev = previous.get(kind)
    since = prev["lastTransitionTime"] if prev and prev.get("status") == status else k8s_time(at)
    cond: dict[str, Any] = {"type": kind, "status": status, "lastTransitionTime": since}
    # A strategic-merge patch keeps fields it does not mention: null clears an earlier reason.
    cond["reason"] = reason if not ok and reason else None
    return cond


def pod_status(
    pod: Mapping[str, Any],
    records: Sequence[ContainerRecord],
    *,
    final: bool,
    sandbox_ready: bool,
    start_time: datetime,
    at: datetime,
) -> dict[str, Any]:
    """The `status` for a strategic-merge patch of pods/status (conditions merge by type)."""
    previous = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
    phase = pod_phase(records, final)
    inits = [r for r in records if r.kind != "main"]
    mains = [r for r in records if r.kind == "main"]
    initialized = all(r.ready or (r.kind == "sidecar" and r.state != "waiting") for r in inits)
    ready = not final and all(r.ready for r in mains) and all(r.ready for r in inits if r.kind == "sidecar")
    not_ready_reason = "PodCompleted" if final else "ContainersNotReady"
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready and not final, "", previous, at),
        _condition("Initialized", initialized, "ContainersNotInitialized", previous, at),
        _condition("ContainersReady", ready, not_ready_reason, previous, at),
        _condition("Ready", ready, not_ready_reason, previous, at),
    ]
    if "PodScheduled" not in previous:  # bound directly via spec.nodeName, never through the scheduler
        conditions.append(_condition("PodScheduled", True, "", previous, at))
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": HOST_IP,
        "podIPs": [{"ip": HOST_IP}],
        "startTime": k8s_time(start_time),
        "containerStatuses": [render_container(r) for r in mains],
    }
    if inits:
        status["initContainerStatuses"] = [render_container(r) for r in inits]
    return status
