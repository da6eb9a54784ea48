"""status.result: what a finished job produced, from the workers' result reports (pure).

The shard that assembles the crate annotates its pod with `portalis.dev/result` (protocol.ResultReport,
decoded within fixed bounds in snapshot.parse_pod). When the job finishes, `job_result` turns the first
shard's report (by shard index; every assembling shard reports the same crate) into status.result, with
the crate's location taken from the job's own spec, never from the pod. Without a report (the job failed
before assembling, or the annotation was lost) the counts come from status.progress, `reported` is false
and no crate is claimed.

Bounded by construction: at most MAX_REASONS + 1 reasons and MAX_EXAMPLES failures of clipped strings,
whatever a pod says, so status.result stays under a few kilobytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from portalis_operator.api import (
    CrateResult,
    FailureReasonCount,
    ProgressStatus,
    ResultStatus,
    ResultUnits,
    TranslationJob,
    UnitFailure,
)
from portalis_worker.protocol import ResultReport

OTHER_REASONS = "other"
"""The reason under which failures beyond protocol.MAX_REASONS reasons are counted."""


def output_location(job: TranslationJob) -> str | None:
    """Where the crate is: `pvc://<claim>/<path>/<crate name>` or `configmap://<name>`."""
    out = job.spec.output
    if out.persistent_volume_claim is not None:
        claim = out.persistent_volume_claim
        parts = [p for p in claim.path.split("/") if p]
        return "pvc://" + "/".join([claim.claim_name, *parts, job.spec.target.crate_name])
    if out.config_map is not None:
        return f"configmap://{out.config_map.name}"
    return None


def first_report(reports: Sequence[ResultReport | None]) -> ResultReport | None:
    return next((r for r in reports if r is not None), None)


def job_result(
    job: TranslationJob,
    reports: Sequence[ResultReport | None],
    progress: ProgressStatus | None,
    succeeded: bool,
) -> ResultStatus:
    """status.result for a job that finished (`succeeded` or not); `reports` by shard index."""
    report = first_report(reports)
    location = output_location(job)
    if report is None:
        return _unreported(location, progress, succeeded)
    u = report.units
    reasons = [FailureReasonCount(reason=r, count=n) for r, n in report.reasons]
    if report.other_reasons:
        reasons.append(FailureReasonCount(reason=OTHER_REASONS, count=report.other_reasons))
    return ResultStatus(
        summary=_summary(u.translated, u.total, u.failed, report.builds),
        reported=True,
        output=location,
        files=report.source_files,
        units=ResultUnits(
            total=u.total,
            translated=u.translated,
            compiled=u.compiled,
            verified=u.verified,
            mismatched=u.mismatched,
            failed=u.failed,
        ),
        failure_reasons=reasons or None,
        failures=[
            UnitFailure(file=e.file, unit=e.unit, reason=e.reason, message=e.message or None)
            for e in report.examples
        ]
        or None,
        failures_truncated=u.failed > len(report.examples),
        crate=CrateResult(
            name=report.crate, digest=report.digest, files=report.crate_files, builds=report.builds
        ),
    )


def _unreported(location: str | None, progress: ProgressStatus | None, succeeded: bool) -> ResultStatus:
    p = progress or ProgressStatus()
    units = (
        ResultUnits(total=p.units_total, translated=p.units_done, failed=p.units_failed)
        if p.units_total is not None
        else None
    )
    if succeeded:
        summary = "the workers reported no result; counts from their progress"
        if units is not None and units.total is not None:
            summary = _summary(units.translated or 0, units.total, units.failed or 0, None)
            summary += " (no result report)"
    else:
        done = f"{p.units_done or 0}/{p.units_total} units translated" if p.units_total is not None else ""
        summary = f"failed with no crate reported{': ' + done if done else ''}"
    return ResultStatus(
        summary=summary,
        reported=False,
        output=location if succeeded else None,
        units=units,
    )


def _summary(translated: int, total: int, failed: int, builds: bool | None) -> str:
    text = f"{translated}/{total} units translated, {failed} failed"
    if builds is not None:
        text += "; the crate builds" if builds else "; the crate does not build"
    return text
