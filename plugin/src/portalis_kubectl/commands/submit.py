"""`kubectl portalis submit PATH|GIT_URL`: pack a local directory onto a PVC (or point at a git repository),
create the TranslationJob, print its name; `--wait` follows it to the end."""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from portalis_kubectl import transfer
from portalis_kubectl.commands import watch
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import API_VERSION, GROUP, PLURAL, VERSION, Session, api_errors
from portalis_kubectl.render import dump

GIT_URL = re.compile(r"^(https://|ssh://|git@)\S+$")
PRIORITIES = ("critical", "high", "normal", "low", "background")


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("submit", parents=[common], help="create a TranslationJob from a directory or git URL")
    p.add_argument("source", metavar="PATH|GIT_URL", help="local directory to upload, or a git URL")
    p.add_argument("--name", help="job name (default: the directory or repository name and a suffix)")
    p.add_argument("--crate-name", help="Rust crate name (default: from the directory or repository name)")
    p.add_argument("--priority", choices=PRIORITIES, help="queue priority (default: normal)")
    p.add_argument("--parallelism", type=int, metavar="N", help="worker shards, 1..64 (default: 1)")
    p.add_argument("--gpus-per-worker", type=int, metavar="N", help="GPUs per shard, 1..8 (default: 1)")
    p.add_argument(
        "--backend", choices=("auto", "model", "rules"), help="translation backend (default: auto)"
    )
    p.add_argument(
        "--model-fallback",
        choices=("none", "rules"),
        help="when the model server cannot be used: fail the job, or go on with the rules (default: none)",
    )
    p.add_argument("--claim", help="PVC for both the uploaded source and the crate")
    p.add_argument("--source-claim", help="PVC the local directory is uploaded to (default: --claim)")
    p.add_argument("--output-claim", help="PVC the crate is written to (default: --claim)")
    p.add_argument("--source-path", help="where on the source PVC (default: /portalis/sources/<job>)")
    p.add_argument("--output-path", help="where on the output PVC (default: /portalis/crates/<job>)")
    p.add_argument("--git-ref", help="branch, tag or commit of a git source")
    p.add_argument("--git-path", help="directory inside the repository (default: /)")
    p.add_argument("--include", action="append", metavar="GLOB", help="files to translate (repeatable)")
    p.add_argument("--exclude", action="append", metavar="GLOB", help="files to skip (repeatable)")
    p.add_argument(
        "--node-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="node labels for the upload pod (repeatable)",
    )
    p.add_argument("--image", default=transfer.DEFAULT_IMAGE, help="image of the upload pod (needs python3)")
    p.add_argument(
        "--wait", action="store_true", help="follow the job until it finishes (exit 1 if it fails)"
    )
    p.add_argument(
        "--timeout", type=float, default=3600.0, metavar="SECONDS", help="for --wait and the upload"
    )
    p.add_argument("-o", "--output", choices=("json", "yaml", "name"), default="name", help="what to print")
    p.set_defaults(run=run)


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "job"


def _crate_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    if not name or not name[0].isalpha():
        name = "crate_" + name
    return name[:64]


def node_selector(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PluginError(f"--node-selector {pair!r}: expected KEY=VALUE", Exit.USAGE)
        out[key] = value
    return out


def job_manifest(
    args: argparse.Namespace, name: str, source: dict[str, Any], output_claim: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "source": source,
        "output": {
            "persistentVolumeClaim": {
                "claimName": output_claim,
                "path": args.output_path or f"/portalis/crates/{name}",
            }
        },
        "target": {"crateName": args.crate_name or _crate_name(name)},
    }
    if args.include:
        source["include"] = args.include
    if args.exclude:
        source["exclude"] = args.exclude
    for key, value in (
        ("priority", args.priority),
        ("parallelism", args.parallelism),
        ("gpusPerWorker", args.gpus_per_worker),
    ):
        if value is not None:
            spec[key] = value
    if args.backend:
        spec["translation"] = {"backend": args.backend}
    if getattr(args, "model_fallback", None):
        spec["model"] = {"fallback": args.model_fallback}
    return {
        "apiVersion": API_VERSION,
        "kind": "TranslationJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/created-by": "kubectl-portalis"}},
        "spec": spec,
    }


def _refuse_existing(session: Session, name: str) -> None:
    try:
        session.job(name)
    except PluginError as exc:
        if exc.code is Exit.NOT_FOUND:
            return
        raise
    raise PluginError(f'translationjob "{name}" already exists', Exit.USAGE)


def run(args: argparse.Namespace, session: Session) -> int:
    output_claim = args.output_claim or args.claim
    if not output_claim:
        raise PluginError(
            "--output-claim (or --claim) is needed: the PVC the crate is written to", Exit.USAGE
        )
    local = Path(args.source)
    is_git = GIT_URL.match(args.source) is not None and not local.exists()
    stem = (
        (args.source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")) if is_git else local.resolve().name
    )
    if args.crate_name is None:
        args.crate_name = _crate_name(stem)
    name = args.name or f"{_slug(stem, 50)}-{uuid.uuid4().hex[:5]}"
    _refuse_existing(session, name)  # before the upload, which would replace that job's source
    if is_git:
        git: dict[str, Any] = {"url": args.source}
        if args.git_ref:
            git["ref"] = args.git_ref
        if args.git_path:
            git["path"] = args.git_path
        source: dict[str, Any] = {"git": git}
    else:
        if not local.is_dir():
            raise PluginError(
                f"{args.source}: not a directory nor a git URL (https://, ssh://, git@)", Exit.NOT_FOUND
            )
        source_claim = args.source_claim or args.claim
        if not source_claim:
            raise PluginError(
                "--source-claim (or --claim) is needed: the PVC a local directory is uploaded to", Exit.USAGE
            )
        path = args.source_path or f"/portalis/sources/{name}"
        opts = transfer.PodOptions(image=args.image, node_selector=node_selector(args.node_selector))
        files = transfer.upload_directory(session, local, source_claim, path, name, opts, args.timeout)
        print(f"uploaded {files} files to {path} on claim {source_claim}", file=sys.stderr)
        source = {"persistentVolumeClaim": {"claimName": source_claim, "path": path}}
    body = job_manifest(args, name, source, output_claim)
    with api_errors(f'translationjob "{name}"', session.namespace):
        try:
            created = session.custom.create_namespaced_custom_object(
                GROUP, VERSION, session.namespace, PLURAL, body
            )
        except ApiException as exc:
            if exc.status == 409:
                raise PluginError(f'translationjob "{name}" already exists', Exit.USAGE) from exc
            raise
    if args.output == "name":
        print(name)
    else:
        dump(created, args.output)
    if args.wait:
        return watch.follow(session, name, args.timeout, quiet=args.output != "name")
    return int(Exit.OK)
