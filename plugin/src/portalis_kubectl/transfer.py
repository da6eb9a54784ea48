"""Moving files between this machine and a PersistentVolumeClaim through short-lived pods.

Why pods and ConfigMaps, not `kubectl cp`: `cp` needs `pods/exec` (often not granted to application
teams) and a kubelet that streams, which simulated and agent-run nodes do not have. Everything here goes
through the API server alone:

- upload: the archive is split into ConfigMaps of at most 768 KiB (`binaryData`; an object holds 1 MiB),
  mounted into a pod that mounts the claim, checks the archive's SHA-256 and unpacks it (pod_side.py);
- export (fetch, report): a pod mounts the claim read-only, packs the directory and writes it back as
  ConfigMaps owned by the pod, with the `portalis-transfer` ServiceAccount (allowed to create ConfigMaps
  in the namespace, nothing else); the plugin joins and checks them.

Every object made for a transfer is labelled `portalis.dev/transfer=<pod>` and deleted afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from portalis_kubectl import pod_side
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import Session, api_errors, poll

TRANSFER_LABEL = "portalis.dev/transfer"
SERVICE_ACCOUNT = "portalis-transfer"
DEFAULT_IMAGE = "portalis/worker:0.1.0"
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
"""Larger sources belong on a PVC of their own or in git (spec.source.persistentVolumeClaim / git)."""
POD_DEADLINE_SECONDS = 600
PARTS_DIR = "/transfer/parts"
VOLUME_DIR = "/transfer/volume"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RUN_AS = 65532


@dataclass(frozen=True)
class PodOptions:
    image: str = DEFAULT_IMAGE
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_name: str | None = None


def _script() -> str:
    return Path(pod_side.__file__).read_text()


def _pod(
    name: str, args: list[str], volumes: list[dict[str, Any]], mounts: list[dict[str, Any]], opts: PodOptions
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": POD_DEADLINE_SECONDS,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "transfer",
                "image": opts.image,
                "command": ["python3", "-c", _script(), *args],
                "volumeMounts": mounts,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": volumes,
    }
    if opts.node_selector:
        spec["nodeSelector"] = dict(opts.node_selector)
    if opts.node_name:
        spec["nodeName"] = opts.node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {TRANSFER_LABEL: name}},
        "spec": spec,
    }


def upload_pod(
    name: str, claim: str, dest: str, parts: list[str], sha256: str, opts: PodOptions
) -> dict[str, Any]:
    """The pod that unpacks the archive in ConfigMaps `parts` into `dest` (absolute) on `claim`."""
    projected = [
        {"configMap": {"name": part, "items": [{"key": "data", "path": f"part-{i:05d}"}]}}
        for i, part in enumerate(parts)
    ]
    volumes = [
        {"name": "parts", "projected": {"sources": projected}},
        {"name": "volume", "persistentVolumeClaim": {"claimName": claim}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "parts", "mountPath": PARTS_DIR, "readOnly": True},
        {"name": "volume", "mountPath": VOLUME_DIR},
    ]
    target = VOLUME_DIR + "/" + dest.strip("/")
    return _pod(name, ["upload", PARTS_DIR, target, sha256], volumes, mounts, opts)


def export_pod(name: str, namespace: str, claim: str, path: str, opts: PodOptions) -> dict[str, Any]:
    """The pod that packs `path` (absolute) on `claim` into ConfigMaps `<name>-<i>`."""
    volumes = [{"name": "volume", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
    mounts = [{"name": "volume", "mountPath": VOLUME_DIR, "readOnly": True}]
    source = VOLUME_DIR + ("/" + path.strip("/") if path.strip("/") else "")
    pod = _pod(name, ["export", source, SA_DIR, namespace, name, "$(POD_UID)"], volumes, mounts, opts)
    pod["spec"]["serviceAccountName"] = SERVICE_ACCOUNT
    pod["spec"]["automountServiceAccountToken"] = True
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}]
    return pod


def transfer_name(job: str, kind: str) -> str:
    return f"{job[:40]}-{kind}-{uuid.uuid4().hex[:6]}"


# ---- I/O ------------------------------------------------------------------------------------------


def _finished_pod(session: Session, name: str, timeout: float) -> Any:
    def read() -> Any:
        with api_errors(f'pod "{name}"', session.namespace):
            pod = session.core.read_namespaced_pod(name, session.namespace)
        return pod if pod.status.phase in ("Succeeded", "Failed") else None

    return poll(read, timeout, f'transfer pod "{name}"', interval=0.5)


def _exit_code(pod: Any) -> int | None:
    for cs in pod.status.container_statuses or ():
        term = cs.state.terminated if cs.state else None
        if term is not None:
            return int(term.exit_code)
    return None


@contextlib.contextmanager
def _cleanup(session: Session, name: str) -> Iterator[None]:
    try:
        yield
    finally:
        ns, selector = session.namespace, f"{TRANSFER_LABEL}={name}"
        with contextlib.suppress(Exception):
            session.core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
        with contextlib.suppress(Exception):
            session.core.delete_collection_namespaced_config_map(ns, label_selector=selector)


def upload_directory(
    session: Session, root: Path, claim: str, dest: str, job: str, opts: PodOptions, timeout: float
) -> int:
    """Put the files under `root` at `dest` on `claim` (replacing what was there). Returns the files."""
    data = pod_side.pack(root, pod_side.SKIP_DIRS)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PluginError(
            f"{root}: {len(data) >> 20} MiB compressed, over the {MAX_ARCHIVE_BYTES >> 20} MiB upload limit; "
            "put the code on a PVC or in git and use spec.source directly",
            Exit.USAGE,
        )
    name = transfer_name(job, "upload")
    ns = session.namespace
    chunks = [data[i : i + pod_side.CHUNK_BYTES] for i in range(0, len(data), pod_side.CHUNK_BYTES)]
    parts = [f"{name}-{i:05d}" for i in range(len(chunks))]
    with _cleanup(session, name):
        for part, chunk in zip(parts, chunks, strict=True):
            body = {
                "metadata": {"name": part, "labels": {TRANSFER_LABEL: name}},
                "binaryData": {"data": base64.b64encode(chunk).decode()},
            }
            with api_errors(f'configmap "{part}"', ns):
                session.core.create_namespaced_config_map(ns, body)
        pod = upload_pod(name, claim, dest, parts, hashlib.sha256(data).hexdigest(), opts)
        with api_errors(f'pod "{name}"', ns):
            session.core.create_namespaced_pod(ns, pod)
        done = _finished_pod(session, name, timeout)
        if done.status.phase != "Succeeded":
            raise PluginError(
                f'upload pod "{name}" failed (exit {_exit_code(done)}) writing {dest} on claim "{claim}"',
                Exit.TRANSFER,
            )
    return count_files(data)


def count_files(archive: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return sum(1 for m in tar if m.isfile())


def ensure_service_account(session: Session) -> None:
    """The `portalis-transfer` ServiceAccount, Role (create ConfigMaps) and RoleBinding; kept if there."""
    ns = session.namespace
    labels = {"app.kubernetes.io/managed-by": "kubectl-portalis"}
    objects: list[tuple[Any, dict[str, Any]]] = [
        (
            session.core.create_namespaced_service_account,
            {"metadata": {"name": SERVICE_ACCOUNT, "labels": labels}},
        ),
        (
            session.rbac.create_namespaced_role,
            {
                "metadata": {"name": SERVICE_ACCOUNT, "labels": labels},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
            },
        ),
        (
            session.rbac.create_namespaced_role_binding,
            {
                "metadata": {"name": SERVICE_ACCOUNT, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SERVICE_ACCOUNT},
                "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": ns}],
            },
        ),
    ]
    for create, body in objects:
        try:
            with api_errors(f"{SERVICE_ACCOUNT} ({create.__name__.removeprefix('create_namespaced_')})", ns):
                try:
                    create(ns, body)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
        except PluginError as exc:
            raise PluginError(
                f"{exc} (fetching from a PVC needs the right to create a ServiceAccount, a Role and a "
                "RoleBinding in the namespace once, or an administrator to create them)",
                exc.code,
            ) from exc


def export_directory(
    session: Session, claim: str, path: str, job: str, opts: PodOptions, timeout: float
) -> bytes:
    """The tar.gz (pod_side.pack) of `path` on `claim`."""
    ensure_service_account(session)
    name = transfer_name(job, "fetch")
    ns = session.namespace
    with _cleanup(session, name):
        with api_errors(f'pod "{name}"', ns):
            session.core.create_namespaced_pod(ns, export_pod(name, ns, claim, path, opts))
        done = _finished_pod(session, name, timeout)
        code = _exit_code(done)
        if code == 3:
            raise PluginError(f'nothing at {path} on claim "{claim}"', Exit.NOT_FOUND)
        if done.status.phase != "Succeeded":
            raise PluginError(f'fetch pod "{name}" failed (exit {code}) reading {path}', Exit.TRANSFER)
        with api_errors(f'configmap "{name}-manifest"', ns):
            manifest = json.loads(
                session.core.read_namespaced_config_map(f"{name}-manifest", ns).data["manifest.json"]
            )
        data = b""
        for i in range(int(manifest["parts"])):
            with api_errors(f'configmap "{name}-{i:05d}"', ns):
                cm = session.core.read_namespaced_config_map(f"{name}-{i:05d}", ns)
            data += base64.b64decode((cm.binary_data or {}).get("data", ""))
    if hashlib.sha256(data).hexdigest() != manifest["sha256"] or len(data) != manifest["bytes"]:
        raise PluginError(f"what came back from {path} does not match its digest", Exit.TRANSFER)
    return data
