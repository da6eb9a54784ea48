"""What a worker tells the operator: its progress and result annotations and its exit code. One definition,
imported by both sides (the worker writes, the operator reads; docs/worker.md and docs/api.md describe them).

Standard library only, so that the operator can import it without the worker's dependencies.

The progress annotation is written by the worker but can be written by anyone allowed to patch the pod
(the namespace's `edit` role, any worker token), so the reader trusts nothing in it: `decode` returns a
report within fixed bounds, or None ("not reported yet") for anything else. A bad report can then at
worst misstate its own job's progress; it cannot overflow the operator's arithmetic or a status field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

PROGRESS_ANNOTATION = "portalis.dev/progress"

MAX_REPORT_CHARS = 1024
"""A real report is under 150 characters; anything longer is refused before it is parsed."""
MAX_UNITS = 10_000_000
"""Units in one shard (a unit is a top-level function, class or module body): far more than any real
codebase, and small enough that 64 shards' sums stay far inside the CRD's int64 fields."""
EARLIEST_CHECKPOINT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_CHECKPOINT = datetime(3000, 1, 1, tzinfo=UTC)
"""Checkpoint times outside these are refused: far from any clock, and near datetime's limits."""


class WorkerExit(IntEnum):
    """The worker's exit codes, and what the operator does with each (docs/worker.md).

    RESUME is a stop, not a failure: the worker received SIGTERM (pod deleted, node draining or shutting
    down, kubelet eviction), flushed its ledger and wants to be recreated to resume from it. It must not
    be 0, because Kubernetes marks a pod whose containers all exited 0 as Succeeded, which would read as
    a finished shard. 75 is sysexits' EX_TEMPFAIL ("try again later").
    """

    OK = 0  # the shard finished (every unit translated or failed on its own)
    ERROR = 1  # unexpected error: retried with backoff, spends the error budget
    CONFIG = 2  # invalid configuration or input: retrying cannot help
    TRANSIENT = 3  # source fetch failed, model server unavailable: retried with backoff
    NO_SPACE = 4  # no space left on device (scratch, ledger or output): retried with backoff, and said so
    OUTPUT = 5  # the output ConfigMap cannot take the crate (too big, or not this job's): permanent
    MODEL_UNAVAILABLE = 6  # the model server (Triton sidecar) did not answer within the wait: retried
    MODEL_NOT_SERVED = 7  # the model server answers without the job's model: permanent
    RESUME = 75  # stopped by SIGTERM after flushing: recreate and resume, spends no error budget


WRITERS_ANNOTATION = "portalis.dev/writers"
"""On the ConfigMaps the operator creates for a ConfigMap output: the worker pods (comma-separated names)
whose tokens may update it. The chart's worker-token policy enforces it (docs/security.md)."""
LEDGER_KEY = "ledger.jsonl.gz"
"""The key of a shard's ledger ConfigMap: its ledger file, gzip-compressed (binaryData)."""
CRATE_KEY = "crate.tar.gz"
"""The key of the output ConfigMap: the crate directory as a deterministic gzip'd tar (binaryData)."""
CONFIGMAP_MAX_BYTES = 1_000_000
"""What one ConfigMap value may hold here: the API server refuses objects over 1 MiB (1,048,576 bytes of
data), and the object's metadata needs a little of it."""


@dataclass(frozen=True)
class ProgressReport:
    """One shard's progress. `units_done + units_failed <= units_total <= MAX_UNITS` once decoded."""

    units_total: int
    units_done: int
    units_failed: int = 0
    last_checkpoint_time: datetime | None = None

    @property
    def processed(self) -> int:
        return min(self.units_total, self.units_done + self.units_failed)

    def encode(self) -> str:
        """The annotation value (JSON); the inverse of `decode` for any report within bounds."""
        when = self.last_checkpoint_time
        return json.dumps(
            {
                "unitsTotal": self.units_total,
                "unitsDone": self.units_done,
                "unitsFailed": self.units_failed,
                "lastCheckpointTime": None
                if when is None
                else when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: object) -> ProgressReport | None:
        """The report in `raw`, or None when it is not one within bounds.

        Refused: anything but a JSON object of at most MAX_REPORT_CHARS; counts that are not plain
        integers (floats, NaN, Infinity, booleans, strings), negative or above MAX_UNITS; a checkpoint
        time that is not an RFC 3339 string with a zone, or outside [EARLIEST, LATEST). Clamped: done to
        the total, failed to what is left of it (a worker whose source changed may count past its total).
        """
        if not isinstance(raw, str) or len(raw) > MAX_REPORT_CHARS:
            return None
        try:
            body = json.loads(raw, parse_constant=_refuse)
        except (ValueError, RecursionError):
            return None
        if not isinstance(body, dict):
            return None
        total = _count(body.get("unitsTotal"))
        done = _count(body.get("unitsDone"))
        failed = _count(body.get("unitsFailed", 0))
        if total is None or done is None or failed is None:
            return None
        when = body.get("lastCheckpointTime")
        checkpoint = None if when is None else _time(when)
        if when is not None and checkpoint is None:
            return None
        done = min(done, total)
        return cls(total, done, min(failed, total - done), checkpoint)


def _refuse(constant: str) -> object:
    raise ValueError(f"{constant} is not a count")


def _count(value: object) -> int | None:
    if type(value) is not int or not 0 <= value <= MAX_UNITS:  # `type`: a bool is an int too
        return None
    return value


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None or not EARLIEST_CHECKPOINT <= parsed < LATEST_CHECKPOINT:
        return None
    return parsed


# --------------------------------------------------------------------------------------------------------
# The result annotation: what the shard that assembled the crate found in it

RESULT_ANNOTATION = "portalis.dev/result"
MAX_RESULT_CHARS = 8192
"""A real result is under 3,000 characters (5 examples of at most 3 clipped strings, 16 reasons)."""
MAX_REASONS = 16
"""Failure reasons kept, most frequent first; the rest are counted in `ResultReport.other_reasons`."""
MAX_EXAMPLES = 5
"""Failed units named (file, unit, reason, message): the first few in file order."""
MAX_NAME_CHARS = 256
MAX_MESSAGE_CHARS = 256
_REASON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CRATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def tree_digest(files: Mapping[str, bytes]) -> str:
    """`sha256:<hex>` of a directory tree: the SHA-256 of its `sha256sum` listing, one line
    `<sha256 of content>  <relative path>` per file, sorted by path (POSIX separators).

    The same as `find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum` in the
    crate directory, so anyone can check a fetched crate against `status.result.crate.digest`."""
    listing = "".join(
        f"{hashlib.sha256(files[path]).hexdigest()}  {path}\n"
        for path in sorted(files, key=lambda p: p.encode("utf-8"))
    )
    return "sha256:" + hashlib.sha256(listing.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class UnitCounts:
    """`translated + failed == total`; every translated unit is exactly one of compiled (in the crate,
    not checked against CPython), verified (same results as CPython) or mismatched."""

    total: int
    translated: int
    failed: int
    compiled: int
    verified: int
    mismatched: int = 0


@dataclass(frozen=True)
class FailureExample:
    file: str
    unit: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class ResultReport:
    """The crate a job produced, as the shard that assembled it saw it. Bounded once decoded."""

    crate: str
    digest: str
    crate_files: int
    source_files: int
    units: UnitCounts
    reasons: tuple[tuple[str, int], ...] = ()
    other_reasons: int = 0
    """Failures whose reason is not among `reasons` (there were more than MAX_REASONS reasons)."""
    examples: tuple[FailureExample, ...] = ()
    builds: bool | None = None
    """True: `rustc` built the crate as a library; False: it did not; None: not checked."""

    def encode(self) -> str:
        """The annotation value (JSON); the inverse of `decode` for a report within bounds."""
        u = self.units
        return json.dumps(
            {
                "crate": self.crate,
                "digest": self.digest,
                "crateFiles": self.crate_files,
                "sourceFiles": self.source_files,
                "units": {
                    "total": u.total,
                    "translated": u.translated,
                    "failed": u.failed,
                    "compiled": u.compiled,
                    "verified": u.verified,
                    "mismatched": u.mismatched,
                },
                "reasons": [[reason, count] for reason, count in self.reasons],
                "otherReasons": self.other_reasons,
                "examples": [[e.file, e.unit, e.reason, e.message] for e in self.examples],
                "builds": self.builds,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_translation_report(
        cls, report: Mapping[str, object], digest: str, crate_files: int, builds: bool | None
    ) -> ResultReport:
        """The result from a crate's `translation_report.json` (crate.render_report's format), clipped to
        the bounds that `decode` checks: reasons sanitised, names and messages shortened."""
        units = report.get("units")
        units = units if isinstance(units, Mapping) else {}

        def count(key: str) -> int:
            value = units.get(key, 0)
            return min(MAX_UNITS, value) if type(value) is int and value >= 0 else 0

        failures = report.get("failures")
        failures = [f for f in failures if isinstance(f, Mapping)] if isinstance(failures, list) else []
        tally: dict[str, int] = {}
        for f in failures:
            reason = _clip_reason(f.get("reason"))
            tally[reason] = tally.get(reason, 0) + 1
        ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        translated, failed = count("translated"), count("failed")
        total = translated + failed
        return cls(
            crate=str(report.get("crate", "")),
            digest=digest,
            crate_files=min(MAX_UNITS, crate_files),
            source_files=count_value(report.get("files")),
            units=UnitCounts(
                total=total,
                translated=translated,
                failed=failed,
                compiled=count("compiled"),
                verified=count("verified"),
                mismatched=count("mismatch"),
            ),
            reasons=tuple(ranked[:MAX_REASONS]),
            other_reasons=sum(n for _, n in ranked[MAX_REASONS:]),
            examples=tuple(
                FailureExample(
                    _clip(f.get("path"), MAX_NAME_CHARS),
                    _clip(f.get("unit"), MAX_NAME_CHARS),
                    _clip_reason(f.get("reason")),
                    _clip(f.get("message"), MAX_MESSAGE_CHARS),
                )
                for f in failures[:MAX_EXAMPLES]
            ),
            builds=builds,
        )

    @classmethod
    def decode(cls, raw: object) -> ResultReport | None:
        """The result in `raw`, or None when it is not one within bounds.

        Refused: anything but a JSON object of at most MAX_RESULT_CHARS; counts that are not plain
        integers in [0, MAX_UNITS], or that do not add up (translated + failed = total, compiled +
        verified + mismatched = translated, the reasons' counts = failed); more than MAX_REASONS reasons
        or MAX_EXAMPLES examples; a reason outside [A-Za-z0-9_.:-]{1,64}; names over MAX_NAME_CHARS or
        messages over MAX_MESSAGE_CHARS characters, or with control characters; a digest that is not
        `sha256:` and 64 hex digits; a crate name Cargo would refuse; `builds` not true, false or null.
        A hostile writer can then at worst misstate its own job's result, within these bounds.
        """
        if not isinstance(raw, str) or len(raw) > MAX_RESULT_CHARS:
            return None
        try:
            body = json.loads(raw, parse_constant=_refuse)
            return _decode_result(body)
        except (ValueError, TypeError, KeyError, RecursionError):
            return None


def count_value(value: object) -> int:
    """A count from untrusted input: the integer when it is one in [0, MAX_UNITS], else 0."""
    return value if type(value) is int and 0 <= value <= MAX_UNITS else 0


def _clip(value: object, limit: int) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in str(value if value is not None else ""))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _clip_reason(value: object) -> str:
    text = re.sub(r"[^A-Za-z0-9_.:-]", "-", str(value if value is not None else ""))[:64]
    return text if _REASON.match(text) else "unknown"


def _strict_count(value: object) -> int:
    counted = _count(value)
    if counted is None:
        raise ValueError("not a count")
    return counted


def _text(value: object, limit: int, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise ValueError("not a bounded printable string")
    if not value and not allow_empty:
        raise ValueError("empty")
    return value


def _decode_result(body: object) -> ResultReport:
    if not isinstance(body, dict):
        raise ValueError("not an object")
    units = body["units"]
    if not isinstance(units, dict):
        raise ValueError("units")
    counts = UnitCounts(
        *(
            _strict_count(units[key])
            for key in ("total", "translated", "failed", "compiled", "verified", "mismatched")
        )
    )
    if counts.translated + counts.failed != counts.total:
        raise ValueError("translated + failed != total")
    if counts.compiled + counts.verified + counts.mismatched != counts.translated:
        raise ValueError("compiled + verified + mismatched != translated")
    raw_reasons, raw_examples = body.get("reasons", []), body.get("examples", [])
    if not isinstance(raw_reasons, list) or len(raw_reasons) > MAX_REASONS:
        raise ValueError("reasons")
    if not isinstance(raw_examples, list) or len(raw_examples) > MAX_EXAMPLES:
        raise ValueError("examples")
    reasons: list[tuple[str, int]] = []
    for item in raw_reasons:
        reason, n = item
        if not isinstance(reason, str) or not _REASON.match(reason) or reason in dict(reasons):
            raise ValueError("reason")
        reasons.append((reason, _strict_count(n)))
    other = _strict_count(body.get("otherReasons", 0))
    if sum(n for _, n in reasons) + other != counts.failed:
        raise ValueError("reason counts != failed")
    examples: list[FailureExample] = []
    for item in raw_examples:
        file, unit, reason, message = item
        if not isinstance(reason, str) or not _REASON.match(reason):
            raise ValueError("example reason")
        examples.append(
            FailureExample(
                _text(file, MAX_NAME_CHARS),
                _text(unit, MAX_NAME_CHARS),
                reason,
                _text(message, MAX_MESSAGE_CHARS),
            )
        )
    crate, digest, builds = body["crate"], body["digest"], body.get("builds")
    if not isinstance(crate, str) or not _CRATE_NAME.match(crate):
        raise ValueError("crate")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError("digest")
    if builds is not None and type(builds) is not bool:
        raise ValueError("builds")
    return ResultReport(
        crate=crate,
        digest=digest,
        crate_files=_strict_count(body["crateFiles"]),
        source_files=_strict_count(body["sourceFiles"]),
        units=counts,
        reasons=tuple(reasons),
        other_reasons=other,
        examples=tuple(examples),
        builds=builds,
    )
