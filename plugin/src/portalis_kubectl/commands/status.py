"""`kubectl portalis status JOB`: phase, queue position and reason, progress, workers, recoveries, cost
and result; `-o json|yaml` prints the object, `-o wide` adds the workers."""

from __future__ import annotations

import argparse
from typing import Any

from portalis_kubectl.kube import Session
from portalis_kubectl.render import dump, table
from portalis_kubectl.summary import summarize


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common], help="where a job stands")
    p.add_argument("job", metavar="JOB")
    p.add_argument("-o", "--output", choices=("json", "yaml", "wide"), help="output format")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, session: Session) -> int:
    job = session.job(args.job)
    if args.output in ("json", "yaml"):
        dump(job, args.output)
        return 0
    for line in summarize(job).lines():
        print(line)
    if args.output == "wide":
        workers = (job.get("status") or {}).get("workers") or []
        print()
        table(
            ["shard", "pod", "node", "capacity", "phase"],
            [
                [w.get("shard"), w.get("pod"), w.get("node"), w.get("capacityType"), w.get("phase")]
                for w in workers
            ],
        )
    return 0
