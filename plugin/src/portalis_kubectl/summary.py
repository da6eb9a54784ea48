"""What `status` and `watch` say about one job, from its object alone (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portalis_kubectl.kube import condition, phase
from portalis_kubectl.render import duration


@dataclass(frozen=True)
class JobSummary:
    name: str
    namespace: str
    phase: str
    priority: str
    queue_position: int | None
    queue_reason: str | None
    units_total: int | None
    units_done: int
    units_failed: int
    percent: int | None
    eta: str | None
    workers_running: int
    workers: int
    reclaims: int
    error_retries: int
    cost_usd: float | None
    gpu_seconds: float
    message: str
    result: str | None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def processed(self) -> int:
        return self.units_done + self.units_failed

    def eta_words(self, now: datetime | None = None) -> str:
        if not self.eta:
            return "unknown"
        try:
            at = datetime.fromisoformat(self.eta.replace("Z", "+00:00"))
        except ValueError:
            return "unknown"
        return duration(max(0.0, (at - (now or datetime.now(UTC))).total_seconds()))

    def lines(self) -> list[str]:
        out = [f"{self.namespace}/{self.name}: {self.phase} (priority {self.priority})"]
        if self.queue_reason or self.queue_position:
            where = f"position {self.queue_position}" if self.queue_position else "waiting"
            out.append(f"queue:      {where}: {self.queue_reason or 'waiting for admission'}")
        if self.units_total is not None:
            pct = f" ({self.percent}%)" if self.percent is not None else ""
            out.append(
                f"progress:   {self.processed}/{self.units_total} units{pct}, {self.units_failed} failed, "
                f"ETA {self.eta_words()}"
            )
        if self.workers:
            out.append(f"workers:    {self.workers_running}/{self.workers} running")
        out.append(f"recoveries: {self.reclaims} spot reclaims, {self.error_retries} error retries")
        cost = f", about ${self.cost_usd:.2f}" if self.cost_usd is not None else ""
        out.append(f"cost:       {self.gpu_seconds / 3600:.2f} GPU-hours{cost}")
        if self.result:
            out.append(f"result:     {self.result}")
        if self.message:
            out.append(f"message:    {self.message}")
        return out


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def summarize(job: dict[str, Any]) -> JobSummary:
    meta, spec, status = job.get("metadata") or {}, job.get("spec") or {}, job.get("status") or {}
    queue, progress = status.get("queue") or {}, status.get("progress") or {}
    workers = status.get("workers") or []
    recoveries, cost, result = (
        status.get("recoveries") or {},
        status.get("cost") or {},
        status.get("result") or {},
    )
    current = phase(job)
    message = ""
    for kind in ("Failed", "Recovering", "Queued", "Suspended", "Preempted"):
        c = condition(job, kind)
        if c.get("status") == "True" and (kind != "Queued" or current == "Queued"):
            message = str(c.get("message") or "")
            break
    total = progress.get("unitsTotal")
    return JobSummary(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        phase=current,
        priority=str(spec.get("priority", "normal")),
        queue_position=queue.get("position") if isinstance(queue.get("position"), int) else None,
        queue_reason=queue.get("reason"),
        units_total=total if isinstance(total, int) else None,
        units_done=_int(progress.get("unitsDone")),
        units_failed=_int(progress.get("unitsFailed")),
        percent=progress.get("percent") if isinstance(progress.get("percent"), int) else None,
        eta=progress.get("eta"),
        workers_running=sum(1 for w in workers if w.get("phase") == "Running"),
        workers=len(workers) or _int(spec.get("parallelism"), 1) * (current not in ("Pending", "Queued")),
        reclaims=_int(recoveries.get("reclaims")),
        error_retries=_int(recoveries.get("errorRetries")),
        cost_usd=cost.get("estimatedUSD") if isinstance(cost.get("estimatedUSD"), int | float) else None,
        gpu_seconds=float(cost.get("gpuSecondsSpot") or 0) + float(cost.get("gpuSecondsOnDemand") or 0),
        message=message,
        result=result.get("summary"),
    )
