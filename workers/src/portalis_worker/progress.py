"""Reporting progress to the operator: the pod annotation `portalis.dev/progress` (docs/api.md), whose
format and bounds are defined once, for this writer and the operator's reader, in `protocol`; and, from
the shard that assembles the crate, the result annotation `portalis.dev/result` (`protocol.ResultReport`).

`KubernetesProgressReporter` patches the worker's own pod with in-cluster credentials (the service
account token, re-read on every patch because it rotates, its CA and namespace) at the API address in
`KUBERNETES_SERVICE_HOST`/`_PORT`. Reporting is best-effort: a failed patch is logged and the next
checkpoint tries again; it never stops the translation.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from portalis_worker.assignment import Assignment
from portalis_worker.protocol import PROGRESS_ANNOTATION, RESULT_ANNOTATION, ProgressReport, ResultReport

LOG = logging.getLogger(__name__)

__all__ = ["PROGRESS_ANNOTATION", "KubernetesProgressReporter", "Progress", "ProgressReporter"]

PATCH_TIMEOUT_SECONDS = 5.0
RESULT_DEADLINE_SECONDS = 300.0
"""The result, and a finished shard's last progress report, are written once, just before the pod exits:
a refused patch is tried again with backoff (1 s doubling to 15 s) for this long, so an API-server outage
or restart does not lose them (the result used to get three attempts at once, the progress one)."""


@dataclass(frozen=True)
class Progress:
    units_total: int
    units_done: int
    units_failed: int
    last_checkpoint: float | None
    """Unix time of the last durable ledger append, None before the first."""

    def to_annotation(self) -> str:
        when = (
            None
            if self.last_checkpoint is None
            else datetime.fromtimestamp(int(self.last_checkpoint), UTC)  # whole seconds are enough
        )
        return ProgressReport(self.units_total, self.units_done, self.units_failed, when).encode()


class ProgressReporter(Protocol):
    def report(self, progress: Progress) -> None:
        """Publish `progress`; never raises (a failed report is retried at the next checkpoint)."""
        ...

    def report_result(self, result: ResultReport) -> None:
        """Publish the assembled crate's result; never raises (a lost result leaves status.result with
        the operator's own counts only)."""
        ...

    def flush(self) -> None:
        """Deliver the last progress report if it was refused (the shard is about to exit); never raises."""
        ...


class NullReporter:
    def __init__(self) -> None:
        self.reports: list[Progress] = []
        self.results: list[ResultReport] = []

    def report(self, progress: Progress) -> None:
        self.reports.append(progress)

    def report_result(self, result: ResultReport) -> None:
        self.results.append(result)

    def flush(self) -> None:
        return None


class KubernetesProgressReporter:
    def __init__(
        self,
        host: str,
        port: int,
        sa_dir: Path,
        namespace: str,
        pod_name: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sleep = sleep
        self.clock = clock
        self.url = (
            f"https://{host if ':' not in host else f'[{host}]'}:{port}"
            f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod_name)}"
        )
        self.sa_dir = sa_dir
        self._context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))

    _unsent: Progress | None = None
    """The last progress report, while the API server has refused it."""

    def report(self, progress: Progress) -> None:
        sent = self._patch({PROGRESS_ANNOTATION: progress.to_annotation()}, "progress")
        self._unsent = None if sent else progress

    def report_result(self, result: ResultReport) -> None:
        if not self._deliver({RESULT_ANNOTATION: result.encode()}, "result"):
            LOG.error("result not reported: the API server did not take it in time")

    def flush(self) -> None:
        if self._unsent is not None and self._deliver(
            {PROGRESS_ANNOTATION: self._unsent.to_annotation()}, "progress"
        ):
            self._unsent = None

    def _deliver(self, annotations: dict[str, str], what: str) -> bool:
        """`_patch`, tried again with backoff (1 s doubling to 15 s) for RESULT_DEADLINE_SECONDS."""
        end = self.clock() + RESULT_DEADLINE_SECONDS
        delay = 1.0
        while not self._patch(annotations, what):
            if self.clock() + delay > end:
                return False
            self.sleep(delay)
            delay = min(15.0, delay * 2)
        return True

    def _patch(self, annotations: dict[str, str], what: str) -> bool:
        body = {"metadata": {"annotations": annotations}}
        try:
            token = (self.sa_dir / "token").read_text().strip()
            request = urllib.request.Request(
                self.url,
                data=json.dumps(body).encode(),
                method="PATCH",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/merge-patch+json",
                    "Accept": "application/json",
                },
            )
            with urllib.request.urlopen(
                request, timeout=PATCH_TIMEOUT_SECONDS, context=self._context
            ) as resp:
                resp.read()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            LOG.warning(f"{what} patch failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return False
        return True


def reporter_for(assignment: Assignment) -> ProgressReporter:
    """The Kubernetes reporter when in-cluster credentials are present, else a no-op (logged once)."""
    sa = assignment.service_account_dir
    missing: list[str] = []
    if assignment.kubernetes_host is None:
        missing.append("KUBERNETES_SERVICE_HOST")
    if assignment.pod_name is None:
        missing.append("PORTALIS_POD_NAME")
    missing += [f"{sa.name}/{f}" for f in ("token", "ca.crt") if not (sa / f).is_file()]
    if missing:
        LOG.info("progress reporting disabled", extra={"missing": missing})
        return NullReporter()
    namespace_file = sa / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else assignment.job_namespace
    assert assignment.kubernetes_host is not None
    assert assignment.pod_name is not None
    try:
        return KubernetesProgressReporter(
            assignment.kubernetes_host, assignment.kubernetes_port, sa, namespace, assignment.pod_name
        )
    except (OSError, ssl.SSLError) as exc:
        LOG.warning("progress reporting disabled: bad CA", extra={"error": str(exc)})
        return NullReporter()
