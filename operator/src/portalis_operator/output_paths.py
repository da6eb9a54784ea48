"""Output paths: which live job holds a PVC output path, and which queued jobs must wait for it.

Two jobs that write to the same directory of the same claim, or one inside the other's, clobber each
other's crate and checkpoint ledger (`<path>/.portalis/ledger`). The rule, over the live (not finished)
jobs of a namespace: an active job (admitted, or with pods still running) holds its path; a queued job
may be admitted only when its path overlaps no active job's and no older queued job's that is itself
free (oldest first by creation time, then name, so the answer does not flip between cycles and a
suspended or requeued job keeps its ledger). The others wait until the holder finishes or is deleted.
Active jobs are never stopped by this rule; it only gates admission. ConfigMap outputs are per job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutputClaim:
    """Where a live job writes: `claim` in `namespace`, under the directory `segments`."""

    key: str
    created_at: datetime
    namespace: str
    claim: str
    segments: tuple[str, ...]
    active: bool = False
    """Admitted, or its pods still run: it holds the path whatever its age."""

    @staticmethod
    def of(
        key: str, created_at: datetime, namespace: str, claim: str, path: str, *, active: bool = False
    ) -> OutputClaim:
        """`path` as the CRD takes it: '/', '/a/b/', '/a//./b' and '/a/b' are the same directory."""
        segments = tuple(s for s in path.split("/") if s not in ("", "."))
        return OutputClaim(key, created_at, namespace, claim, segments, active)

    def overlaps(self, other: OutputClaim) -> bool:
        """Same claim in the same namespace, and one directory is the other or lies inside it."""
        if (self.namespace, self.claim) != (other.namespace, other.claim):
            return False
        n = min(len(self.segments), len(other.segments))
        return self.segments[:n] == other.segments[:n]

    def describe(self) -> str:
        return f"pvc://{self.claim}/{'/'.join(self.segments)}"


def waiting_for_output(live: Iterable[OutputClaim]) -> dict[str, str]:
    """Queued jobs that must wait: key -> the key of the job that holds (or is first in line for) an
    overlapping path. Active jobs are never in it."""
    by_age = sorted(live, key=lambda o: (o.created_at, o.key))
    holders = [o for o in by_age if o.active]
    blocked: dict[str, str] = {}
    for queued in (o for o in by_age if not o.active):
        holder = next((h for h in holders if h.overlaps(queued)), None)
        if holder is None:
            holders.append(queued)  # free: it is first in line for its path
        else:
            blocked[queued.key] = holder.key
    return blocked
