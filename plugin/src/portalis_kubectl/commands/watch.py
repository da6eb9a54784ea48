"""`kubectl portalis watch JOB`: the queue position while it waits, a live progress bar while it runs
(units, ETA, workers, reclaims, cost), the result when it ends. Exit 0 Succeeded, 1 Failed."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import Session
from portalis_kubectl.summary import JobSummary, summarize

POLL_SECONDS = 1.0


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="follow a job with a progress bar until it finishes")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up after this long")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, session: Session) -> int:
    return follow(session, args.job, args.timeout, out=sys.stdout)


def detail(s: JobSummary) -> str:
    if s.phase in ("Pending", "Queued", "Suspended", "Preempted"):
        where = f"position {s.queue_position}" if s.queue_position else "waiting"
        return f"{s.phase}: {where}, {s.queue_reason or 'waiting for admission'}"
    cost = f", ${s.cost_usd:.2f}" if s.cost_usd is not None else ""
    return (
        f"{s.phase}: {s.units_failed} failed, ETA {s.eta_words()}, workers {s.workers_running}/{s.workers}, "
        f"reclaims {s.reclaims}, {s.gpu_seconds / 3600:.2f} GPU-h{cost}"
    )


def follow(
    session: Session, name: str, timeout: float | None, quiet: bool = False, out: TextIO = sys.stderr
) -> int:
    """Follow job `name` to Succeeded (0) or Failed (1); TIMEOUT after `timeout` seconds."""
    console = Console(file=out, quiet=quiet)
    deadline = None if timeout is None else time.monotonic() + timeout
    columns = (
        TextColumn("{task.fields[job]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    last_line = ""
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task("units", total=None, job=name, detail="")
        while True:
            s = summarize(session.job(name))
            bar.update(task, total=s.units_total, completed=s.processed, detail=detail(s))
            if not console.is_terminal:  # a log, not a bar: one line per change
                total = s.units_total if s.units_total is not None else "?"
                line = f"{name}: {s.processed}/{total} units; {detail(s)}"
                if line != last_line:
                    console.print(line, highlight=False, soft_wrap=True)
                    last_line = line
            if s.finished:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise PluginError(
                    f"timed out after {timeout:.0f} s following {name} ({s.phase})", Exit.TIMEOUT
                )
            time.sleep(POLL_SECONDS)
    for line in s.lines():
        console.print(line, highlight=False, soft_wrap=True)
    return int(Exit.OK if s.phase == "Succeeded" else Exit.JOB_FAILED)
