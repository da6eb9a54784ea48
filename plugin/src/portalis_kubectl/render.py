"""Output as kubectl prints it: `-o json|yaml` (the objects), tables with upper-case headers (`-o wide`
adds columns), durations like `5m3s`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import yaml

FORMATS = ("json", "yaml", "wide")


def dump(obj: Any, fmt: str, out: TextIO = sys.stdout) -> None:
    if fmt == "json":
        out.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    else:
        out.write(yaml.safe_dump(json.loads(json.dumps(obj, default=str)), sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO = sys.stdout) -> None:
    cells = [
        [str(h).upper() for h in headers],
        *[["<none>" if c is None else str(c) for c in r] for r in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        out.write("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def age(since: str | None, now: datetime | None = None) -> str:
    """kubectl's short duration: 45s, 5m3s, 3h12m, 2d4h."""
    if not since:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    return duration(seconds)


def duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"
