"""`kubectl portalis fetch JOB -o DIR|FILE.tar.gz`: the crate and its report, from wherever the job wrote
them, checked against the digest in status.result."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from portalis_kubectl import pod_side, transfer
from portalis_kubectl.commands.submit import node_selector
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import Session, phase
from portalis_worker.protocol import CRATE_KEY, tree_digest


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("fetch", parents=[common], help="copy a job's crate and report here")
    p.add_argument("job", metavar="JOB")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR|FILE.tar.gz",
        help="a new or empty directory, or an archive",
    )
    p.add_argument("--no-verify", action="store_true", help="do not check the crate against status.result")
    add_transfer_options(p)
    p.set_defaults(run=run)


def add_transfer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--node-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="node labels for the fetch pod when the job's nodes are gone (repeatable)",
    )
    p.add_argument("--image", default=transfer.DEFAULT_IMAGE, help="image of the fetch pod (needs python3)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS", help="for the fetch pod")


def crate_location(job: dict[str, Any]) -> tuple[str, str]:
    """(claim, absolute path of the crate directory) of a job whose output is a PVC."""
    spec = job.get("spec") or {}
    output = spec.get("output") or {}
    pvc = output.get("persistentVolumeClaim")
    name = (job.get("metadata") or {}).get("name")
    if pvc is None:
        raise PluginError(f"{name}: spec.output is a ConfigMap, not a volume path", Exit.NOT_FOUND)
    base = str(pvc.get("path") or "/").strip("/")
    crate = str((spec.get("target") or {}).get("crateName"))
    return str(pvc["claimName"]), "/" + "/".join(p for p in (base, crate) if p)


def _worker_node(session: Session, job: dict[str, Any]) -> str | None:
    """A node a worker of the job ran on, if it is still there: the claim is known to mount there."""
    for w in reversed((job.get("status") or {}).get("workers") or []):
        node = w.get("node")
        if node:
            with contextlib.suppress(Exception):
                session.core.read_node(node)
                return str(node)
    return None


def crate_archive(session: Session, name: str, args: argparse.Namespace) -> tuple[bytes, dict[str, Any]]:
    """The job's crate directory as a tar.gz (pod_side.pack), and the job."""
    job = session.job(name)
    config_map = ((job.get("spec") or {}).get("output") or {}).get("configMap")
    if config_map is not None:
        return config_map_crate(session, job, str(config_map.get("name"))), job
    claim, path = crate_location(job)
    opts = transfer.PodOptions(
        image=args.image,
        node_selector=node_selector(args.node_selector),
        node_name=_worker_node(session, job),
    )
    try:
        data = transfer.export_directory(session, claim, path, name, opts, args.timeout)
    except PluginError as exc:
        if exc.code is Exit.NOT_FOUND and phase(job) != "Succeeded":
            raise PluginError(f"{exc} (the job is {phase(job)}: no crate yet)", exc.code) from exc
        raise
    return data, job


def config_map_crate(session: Session, job: dict[str, Any], config_map: str) -> bytes:
    """The crate archive a ConfigMap output holds (docs/api.md, "ConfigMap output"): no pod needed."""
    name = (job.get("metadata") or {}).get("name")
    try:
        cm = session.core.read_namespaced_config_map(config_map, session.namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise PluginError(f'configmap "{config_map}": {exc.reason}', Exit.TRANSFER) from exc
        cm = None
    value = ((cm.binary_data if cm is not None else None) or {}).get(CRATE_KEY)
    if not value:
        raise PluginError(
            f"{name}: the output ConfigMap {config_map} holds no crate (the job is {phase(job)})",
            Exit.NOT_FOUND,
        )
    return base64.b64decode(value)


def files_of(archive: bytes) -> dict[str, bytes]:
    import tarfile

    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for m in tar:
            f = tar.extractfile(m) if m.isfile() else None
            if f is not None:
                out[m.name] = f.read()
    return out


def verify(job: dict[str, Any], files: dict[str, bytes]) -> str | None:
    """None when the files are the crate status.result names (or it names none); else why not."""
    crate = ((job.get("status") or {}).get("result") or {}).get("crate") or {}
    expected = crate.get("digest")
    if not expected:
        return None
    got = tree_digest(files)
    if got != expected:
        return (
            f"the crate on the volume ({got}) is not the one the job reported ({expected}); it changed since"
        )
    return None


def run(args: argparse.Namespace, session: Session) -> int:
    data, job = crate_archive(session, args.job, args)
    files = files_of(data)
    if not args.no_verify and (problem := verify(job, files)) is not None:
        raise PluginError(f"{args.job}: {problem} (--no-verify to take it anyway)", Exit.TRANSFER)
    dest = Path(args.output)
    crate = str((job.get("spec") or {}).get("target", {}).get("crateName", args.job))
    if dest.name.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory() as tmp:
            pod_side.unpack(data, Path(tmp) / crate)
            dest.write_bytes(pod_side.pack(Path(tmp)))
    else:
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise PluginError(f"{dest}: exists and is not an empty directory", Exit.USAGE)
        dest.mkdir(parents=True, exist_ok=True)
        pod_side.unpack(data, dest)
    print(f"{args.job}: {len(files)} files of crate {crate} -> {dest}", file=sys.stderr)
    return 0
