"""`kubectl portalis report JOB [--all]`: the per-unit report from the job's crate (TRANSLATION_REPORT's
JSON twin): the failed units with their reasons, or with `--all` every unit and its state."""

from __future__ import annotations

import argparse
import json
from typing import Any

from portalis_kubectl.commands.fetch import add_transfer_options, crate_archive, files_of
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import Session
from portalis_kubectl.render import dump, table

REPORT = "translation_report.json"


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="the per-unit translation report of a job")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--all", action="store_true", help="every unit and its state, not only the failed ones")
    p.add_argument("-o", "--output", choices=("json", "yaml", "wide"), help="output format")
    add_transfer_options(p)
    p.set_defaults(run=run)


def rows(report: dict[str, Any], every: bool, wide: bool) -> tuple[list[str], list[list[object]]]:
    if every:
        units = report.get("unit_states")
        if units is None:  # a crate made before unit_states existed: the failures and checked units
            units = [{**f, "state": "failed"} for f in report.get("failures", [])]
            units += [
                {"path": v["path"], "unit": v["unit"], "state": v["state"]}
                for v in report.get("verification", [])
            ]
        return ["file", "unit", "state", "reason"], [
            [u.get("path"), u.get("unit"), u.get("state"), u.get("reason") or ""] for u in units
        ]
    headers = ["file", "unit", "reason", "message"]
    out = []
    for f in report.get("failures", []):
        message = " ".join(str(f.get("message") or "").split())
        out.append([f.get("path"), f.get("unit"), f.get("reason"), message if wide else message[:80]])
    return headers, out


def run(args: argparse.Namespace, session: Session) -> int:
    data, _ = crate_archive(session, args.job, args)
    files = files_of(data)
    if REPORT not in files:
        raise PluginError(f"{args.job}: the crate has no {REPORT}", Exit.NOT_FOUND)
    report = json.loads(files[REPORT])
    if args.output in ("json", "yaml"):
        dump(report, args.output)
        return 0
    units = report.get("units") or {}
    print(
        f"{report.get('crate')}: {units.get('total')} units in {report.get('files')} files: "
        f"{units.get('translated')} translated ({units.get('verified', 0)} verified, "
        f"{units.get('mismatch', 0)} mismatched, {units.get('compiled', 0)} compiled), "
        f"{units.get('failed')} failed"
    )
    headers, body = rows(report, args.all, args.output == "wide")
    if body:
        print()
        table(headers, body)
    return 0
