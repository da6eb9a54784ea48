"""`kubectl portalis queue`: unfinished jobs across the namespaces the caller may read, by priority, with
each one's queue position and reason (or its progress when it runs)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kubernetes.client.exceptions import ApiException

from portalis_kubectl.kube import FINAL_PHASES, GROUP, PLURAL, VERSION, Session, api_errors, phase
from portalis_kubectl.render import age, dump, table

RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3, "background": 4}


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("queue", parents=[common], help="queued and running jobs, by priority")
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=None,
        help="every namespace (the default without -n)",
    )
    p.add_argument("-o", "--output", choices=("json", "yaml", "wide"), help="output format")
    p.set_defaults(run=run)


def _list(session: Session, everywhere: bool) -> list[dict[str, Any]]:
    if everywhere:
        with api_errors("translationjobs"):
            try:
                return list(session.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"])
            except ApiException as exc:
                if exc.status != 403:
                    raise
        print(
            f"(may not list jobs in every namespace; showing namespace {session.namespace})", file=sys.stderr
        )
    with api_errors("translationjobs", session.namespace):
        return list(
            session.custom.list_namespaced_custom_object(GROUP, VERSION, session.namespace, PLURAL)["items"]
        )


def order(job: dict[str, Any]) -> tuple[int, int, int, str]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    waiting = phase(job) in ("Pending", "Queued", "Suspended", "Preempted")
    position = (status.get("queue") or {}).get("position")
    return (
        RANK.get(str(spec.get("priority", "normal")), 2),
        1 if waiting else 0,  # within a priority, running jobs first, then the queue in order
        position if isinstance(position, int) else 1 << 30,
        str((job.get("metadata") or {}).get("creationTimestamp", "")),
    )


def run(args: argparse.Namespace, session: Session) -> int:
    everywhere = args.all_namespaces if args.all_namespaces is not None else not args.namespace_given
    jobs = sorted((j for j in _list(session, everywhere) if phase(j) not in FINAL_PHASES), key=order)
    if args.output in ("json", "yaml"):
        dump({"apiVersion": "v1", "kind": "List", "items": jobs}, args.output)
        return 0
    headers = ["namespace", "name", "priority", "phase", "position", "reason", "progress", "age"]
    if args.output == "wide":
        headers += ["effective", "workers"]
    body = []
    for j in jobs:
        meta, spec, status = j.get("metadata") or {}, j.get("spec") or {}, j.get("status") or {}
        queue, progress = status.get("queue") or {}, status.get("progress") or {}
        pct = progress.get("percent")
        row: list[object] = [
            meta.get("namespace"),
            meta.get("name"),
            spec.get("priority", "normal"),
            phase(j),
            queue.get("position", ""),
            queue.get("reason", ""),
            f"{pct}%" if pct is not None else "",
            age(meta.get("creationTimestamp")),
        ]
        if args.output == "wide":
            row += [queue.get("effectivePriority", ""), status.get("activeWorkers", 0)]
        body.append(row)
    if not body:
        print("No queued or running translation jobs.", file=sys.stderr)
        return 0
    table(headers, body)
    return 0
