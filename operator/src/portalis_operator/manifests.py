"""Pure builders of the objects the operator creates. No I/O: writes.py creates what these return."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from portalis_operator.api import API_VERSION, TranslationJob
from portalis_operator.placement import SPOT_TAINT_KEY, SPOT_TAINT_VALUE
from portalis_operator.workload import CapacityType, SpotMode
from portalis_worker.protocol import WRITERS_ANNOTATION

GPU_RESOURCE = "nvidia.com/gpu"
EPHEMERAL_STORAGE = "ephemeral-storage"
JOB_LABEL = "portalis.dev/job"
SHARD_LABEL = "portalis.dev/shard"
HOSTNAME_LABEL = "kubernetes.io/hostname"
MAX_NAME = 63

SOURCE_DIR = "/var/lib/portalis/source"
OUTPUT_DIR = "/var/lib/portalis/output"
LEDGER_DIR = "/var/lib/portalis/ledger"
MEMORY_DIR = "/var/lib/portalis/memory"
MEMORY_SUBPATH = ".portalis/memory"
"""The translation memory on the output PVC (the worker's memory.py): at the claim's root, so every job
writing to the claim shares it, whatever its output path."""
GIT_CREDENTIALS_DIR = "/var/run/portalis/git-credentials"  # the credentialsSecretRef Secret, worker only
SCRATCH_DIR = "/tmp"
MODEL_REPO_DIR = "/models"
TRITON_GRPC = "localhost:8001"
WORKER_METRICS_PORT = 9400
TRITON_METRICS_PORT = 8002  # the only ports open to other pods (network_policy.py)


@dataclass(frozen=True)
class WorkerPodSettings:
    """Operator-wide settings for worker pods (from the operator's settings object)."""

    image: str
    triton_image: str = "portalis/triton:0.1.0"
    capacity_type_label: str = "karpenter.sh/capacity-type"
    termination_grace_seconds: int = 120
    service_account: str | None = None
    image_pull_policy: str = "IfNotPresent"
    cpu_request: str = "2"
    memory_request: str = "8Gi"
    memory_limit: str = "32Gi"
    run_as_user: int = 65532
    ledger_claim_name: str | None = None
    """PVC for checkpoint ledgers when the output is a ConfigMap; without it they use an emptyDir,
    which does not survive a reclaim (the shard then restarts from scratch)."""
    # Node disk is shared with other tenants' pods: every emptyDir has a sizeLimit and every container
    # an ephemeral-storage request and limit, so a huge repository or a runaway build gets this pod
    # evicted (the kubelet's rule), not its neighbours.
    scratch_size_limit: str = "8Gi"
    """/tmp (rustc's builds, Triton's scratch)."""
    source_size_limit: str = "20Gi"
    """The git checkout (directory sources are mounted, not copied)."""
    output_size_limit: str = "1Gi"
    """The crate when the output is a ConfigMap (which holds at most 1 MiB)."""
    ledger_size_limit: str = "1Gi"
    """The checkpoint ledger when it has no PVC."""
    ephemeral_storage_request: str = "4Gi"
    ephemeral_storage_limit: str = "32Gi"
    """The worker container's; the kubelet compares the pod's emptyDirs, writable layers and logs with
    the sum of its containers' limits."""


def safe_name(base: str, suffix: str = "", limit: int = MAX_NAME) -> str:
    """`base + suffix`, or when longer than `limit`: a truncated base, a hash of the full base, suffix.

    Deterministic, unique per base, and a valid DNS label (no trailing '-' or '.' before the hash)."""
    name = base + suffix
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    head = base[: limit - len(suffix) - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}{suffix}"


def worker_pod_name(job_name: str, shard: int) -> str:
    return safe_name(job_name, f"-w{shard}")


def ledger_config_map_name(job_name: str, shard: int) -> str:
    """A shard's ledger ConfigMap for a ConfigMap output: named after its pod (a DNS subdomain, <= 253)."""
    return f"{worker_pod_name(job_name, shard)}-ledger"


def output_config_maps(job: TranslationJob) -> list[dict[str, Any]]:
    """For a ConfigMap output: each shard's ledger ConfigMap, then the output ConfigMap; else none.

    Owned by the job (deleted with it), empty, and annotated with the worker pods whose tokens may update
    each (`protocol.WRITERS_ANNOTATION`): a shard its own ledger, every shard the output (the last one to
    finish assembles the crate). The chart's worker-token policy holds tokens to that; the worker refuses
    (exit 5) an output ConfigMap that does not name its pod, such as one that existed before the job."""
    out = job.spec.output.config_map
    if out is None:
        return []
    name, shards = job.metadata.name, range(job.spec.parallelism)

    def config_map(cm_name: str, writers: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": cm_name,
                "namespace": job.metadata.namespace or "default",
                "labels": job_labels(job),
                "annotations": {WRITERS_ANNOTATION: ",".join(writers)},
                "ownerReferences": [owner_reference(job)],
            },
        }

    ledgers = [config_map(ledger_config_map_name(name, s), [worker_pod_name(name, s)]) for s in shards]
    return [*ledgers, config_map(out.name, [worker_pod_name(name, s) for s in shards])]


def job_labels(job: TranslationJob) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "portalis-worker",
        "app.kubernetes.io/instance": safe_name(job.metadata.name),
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/part-of": "portalis",
        "app.kubernetes.io/managed-by": "portalis-operator",
        JOB_LABEL: safe_name(job.metadata.name),
    }


def owner_reference(job: TranslationJob) -> dict[str, Any]:
    if not job.metadata.uid:
        raise ValueError(f"{job.metadata.name}: an owner reference needs the job's uid")
    return {
        "apiVersion": API_VERSION,
        "kind": "TranslationJob",
        "name": job.metadata.name,
        "uid": job.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _affinity(mode: SpotMode, label: str, node: str | None) -> dict[str, Any]:
    required: list[dict[str, Any]] = []
    preferred: list[dict[str, Any]] = []
    if mode is SpotMode.NEVER:
        required.append({"key": label, "operator": "In", "values": [CapacityType.ON_DEMAND.value]})
    elif mode is SpotMode.REQUIRED:
        required.append({"key": label, "operator": "In", "values": [CapacityType.SPOT.value]})
    else:
        required.append(
            {
                "key": label,
                "operator": "In",
                "values": [CapacityType.SPOT.value, CapacityType.ON_DEMAND.value],
            }
        )
        preferred.append(
            {
                "weight": 100,
                "preference": {
                    "matchExpressions": [
                        {"key": label, "operator": "In", "values": [CapacityType.SPOT.value]}
                    ]
                },
            }
        )
    if node is not None:
        required.append({"key": HOSTNAME_LABEL, "operator": "In", "values": [node]})
    affinity: dict[str, Any] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": required}]
        }
    }
    if preferred:
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": affinity}


def _tolerations(mode: SpotMode) -> list[dict[str, Any]]:
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if mode is not SpotMode.NEVER:
        tolerations.append(
            {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": SPOT_TAINT_VALUE, "effect": "NoSchedule"}
        )
    return tolerations


def _empty_dir(size_limit: str) -> dict[str, Any]:
    return {"sizeLimit": size_limit}


def _volumes(
    job: TranslationJob, settings: WorkerPodSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts). Source read-only; output and ledger on the output PVC when there is one."""
    spec = job.spec
    volumes: list[dict[str, Any]] = [{"name": "scratch", "emptyDir": _empty_dir(settings.scratch_size_limit)}]
    mounts: list[dict[str, Any]] = [{"name": "scratch", "mountPath": SCRATCH_DIR}]
    src = spec.source
    if src.config_map is not None:
        volumes.append({"name": "source", "configMap": {"name": src.config_map.name}})
        mounts.append({"name": "source", "mountPath": SOURCE_DIR, "readOnly": True})
    elif src.persistent_volume_claim is not None:
        claim = src.persistent_volume_claim
        volumes.append(
            {"name": "source", "persistentVolumeClaim": {"claimName": claim.claim_name, "readOnly": True}}
        )
        mount: dict[str, Any] = {"name": "source", "mountPath": SOURCE_DIR, "readOnly": True}
        if claim.path.strip("/"):
            mount["subPath"] = claim.path.strip("/")
        mounts.append(mount)
    else:  # git: the worker clones into an emptyDir
        volumes.append({"name": "source", "emptyDir": _empty_dir(settings.source_size_limit)})
        mounts.append({"name": "source", "mountPath": SOURCE_DIR})
        ref = src.git.credentials_secret_ref if src.git is not None else None
        if ref is not None:
            # Files readable by the pod's group (fsGroup) only; in no environment variable, in no other
            # container (git_credentials.py in the worker hands them to git when it asks).
            secret = {"secretName": ref.name, "defaultMode": 0o440}
            volumes.append({"name": "git-credentials", "secret": secret})
            mounts.append({"name": "git-credentials", "mountPath": GIT_CREDENTIALS_DIR, "readOnly": True})

    out = spec.output.persistent_volume_claim
    if out is not None:
        volumes.append({"name": "output", "persistentVolumeClaim": {"claimName": out.claim_name}})
        sub = out.path.strip("/")
        mounts.append({"name": "output", "mountPath": OUTPUT_DIR, **({"subPath": sub} if sub else {})})
        ledger_sub = f"{sub}/.portalis/ledger" if sub else ".portalis/ledger"
        mounts.append({"name": "output", "mountPath": LEDGER_DIR, "subPath": ledger_sub})
        if _has_memory(job):
            mounts.append({"name": "output", "mountPath": MEMORY_DIR, "subPath": MEMORY_SUBPATH})
    else:
        volumes.append({"name": "output", "emptyDir": _empty_dir(settings.output_size_limit)})
        mounts.append({"name": "output", "mountPath": OUTPUT_DIR})
        if settings.ledger_claim_name is not None:
            volumes.append(
                {"name": "ledger", "persistentVolumeClaim": {"claimName": settings.ledger_claim_name}}
            )
            ledger_path = f"{job.metadata.namespace or 'default'}/{job.metadata.name}"
            mounts.append({"name": "ledger", "mountPath": LEDGER_DIR, "subPath": ledger_path})
        else:
            volumes.append({"name": "ledger", "emptyDir": _empty_dir(settings.ledger_size_limit)})
            mounts.append({"name": "ledger", "mountPath": LEDGER_DIR})
    return volumes, mounts


def _has_memory(job: TranslationJob) -> bool:
    """A translation memory needs a PVC output (where it lives) and a backend that reads it."""
    spec = job.spec
    return (
        spec.translation.memory
        and spec.translation.backend != "model"
        and spec.output.persistent_volume_claim is not None
    )


def _env(job: TranslationJob, shard: int) -> list[dict[str, Any]]:
    spec = job.spec
    values: dict[str, str] = {
        "PORTALIS_JOB_NAME": job.metadata.name,
        "PORTALIS_JOB_NAMESPACE": job.metadata.namespace or "default",
        "PORTALIS_JOB_UID": job.metadata.uid or "",
        "PORTALIS_SHARD_INDEX": str(shard),
        "PORTALIS_SHARD_COUNT": str(spec.parallelism),
        "PORTALIS_BACKEND": spec.translation.backend,
        "PORTALIS_CHECKPOINT_INTERVAL_SECONDS": str(spec.checkpoint.interval_seconds),
        "PORTALIS_MODEL_NAME": spec.model.name,
        "PORTALIS_MODEL_VERSION": str(spec.model.version or ""),
        "PORTALIS_MODEL_FALLBACK": spec.model.fallback,
        "PORTALIS_CRATE_NAME": spec.target.crate_name,
        "PORTALIS_RUST_EDITION": spec.target.edition,
        "PORTALIS_SOURCE_DIR": SOURCE_DIR,
        "PORTALIS_OUTPUT_DIR": OUTPUT_DIR,
        "PORTALIS_LEDGER_DIR": LEDGER_DIR,
        "PORTALIS_INCLUDE": json.dumps(spec.source.include),
        "PORTALIS_EXCLUDE": json.dumps(spec.source.exclude),
    }
    if spec.output.config_map is not None:
        values["PORTALIS_OUTPUT_CONFIGMAP"] = spec.output.config_map.name
        names = [ledger_config_map_name(job.metadata.name, s) for s in range(spec.parallelism)]
        values["PORTALIS_LEDGER_CONFIGMAPS"] = json.dumps(names)
    if _has_memory(job):
        values["PORTALIS_MEMORY_DIR"] = MEMORY_DIR
    git = spec.source.git
    if git is not None:
        values["PORTALIS_GIT_URL"] = git.url
        values["PORTALIS_GIT_REF"] = git.ref or ""
        values["PORTALIS_GIT_PATH"] = git.path
        if git.credentials_secret_ref is not None:
            values["PORTALIS_GIT_CREDENTIALS_DIR"] = GIT_CREDENTIALS_DIR  # a path, not a credential
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
    env += [
        {"name": "PORTALIS_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "PORTALIS_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    return env


def _restricted() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _worker_resources(gpus: str | None, settings: WorkerPodSettings) -> dict[str, Any]:
    requests: dict[str, str] = {
        "cpu": settings.cpu_request,
        "memory": settings.memory_request,
        EPHEMERAL_STORAGE: settings.ephemeral_storage_request,
    }
    limits: dict[str, str] = {
        "memory": settings.memory_limit,
        EPHEMERAL_STORAGE: settings.ephemeral_storage_limit,
    }
    if gpus is not None:
        requests[GPU_RESOURCE] = gpus
        limits[GPU_RESOURCE] = gpus
    return {"requests": requests, "limits": limits}


def _triton_sidecar(gpus: str, settings: WorkerPodSettings) -> dict[str, Any]:
    """Triton as a native sidecar (an init container that keeps running): it starts before the worker
    and is stopped after it, so the pod still completes when the worker exits."""
    return {
        "name": "triton",
        "image": settings.triton_image,
        "imagePullPolicy": settings.image_pull_policy,
        "restartPolicy": "Always",
        "command": ["tritonserver"],
        "args": [
            f"--model-repository={MODEL_REPO_DIR}",
            f"--grpc-port={TRITON_GRPC.rsplit(':', 1)[1]}",
            "--http-port=8000",
            f"--metrics-port={TRITON_METRICS_PORT}",
            "--allow-http=true",
        ],
        "ports": [
            {"name": "triton-grpc", "containerPort": int(TRITON_GRPC.rsplit(":", 1)[1]), "protocol": "TCP"},
            {"name": "triton-metrics", "containerPort": TRITON_METRICS_PORT, "protocol": "TCP"},
        ],
        "startupProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8000}, "failureThreshold": 60},
        "resources": {
            # A read-only root filesystem: beyond the scratch emptyDir, Triton writes only its logs.
            "requests": {GPU_RESOURCE: gpus, "cpu": "2", "memory": "16Gi", EPHEMERAL_STORAGE: "1Gi"},
            "limits": {GPU_RESOURCE: gpus, "memory": "64Gi", EPHEMERAL_STORAGE: "4Gi"},
        },
        "securityContext": _restricted(),
        "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH_DIR}],
    }


def build_worker_pod(
    job: TranslationJob,
    shard: int,
    *,
    spot_mode: SpotMode,
    settings: WorkerPodSettings,
    node: str | None = None,
) -> dict[str, Any]:
    """The pod of one worker shard.

    `spot_mode` is the effective mode (placement.effective_spot_mode). `node` is where admission placed
    the shard: it is pinned there by node affinity (not spec.nodeName, so taints and the scheduler's
    checks still apply), keeping the admission's bin-packing and the real placement the same.
    """
    spec = job.spec
    if not 0 <= shard < spec.parallelism:
        raise ValueError(f"shard {shard} outside 0..{spec.parallelism - 1}")
    gpus = str(spec.gpus_per_worker)
    labels = {**job_labels(job), SHARD_LABEL: str(shard)}
    volumes, mounts = _volumes(job, settings)
    # The Triton sidecar serves the translator model and our kernels (the embedder model), so it holds
    # the GPUs; the worker itself is CPU work (parsing, rustc, ledger). A rules-only job runs no Triton
    # and its GPUs go to the worker, whose kernels then run in-process through cupy.
    sidecar = _triton_sidecar(gpus, settings) if spec.translation.backend != "rules" else None
    container: dict[str, Any] = {
        "name": "worker",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["portalis-worker"],
        "env": _env(job, shard)
        + ([{"name": "PORTALIS_TRITON_URL", "value": TRITON_GRPC}] if sidecar else []),
        "ports": [{"name": "metrics", "containerPort": WORKER_METRICS_PORT, "protocol": "TCP"}],
        "resources": _worker_resources(gpus if sidecar is None else None, settings),
        "volumeMounts": mounts,
        "securityContext": _restricted(),
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": settings.termination_grace_seconds,
        "enableServiceLinks": False,
        # The worker reports progress by patching its own pod's annotation (docs/api.md), so it needs
        # its service account's token; the chart binds that account to get/patch on pods only.
        "automountServiceAccountToken": settings.service_account is not None,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "fsGroup": settings.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": _affinity(spot_mode, settings.capacity_type_label, node),
        "tolerations": _tolerations(spot_mode),
        "containers": [container],
        **({"initContainers": [sidecar]} if sidecar is not None else {}),
        "volumes": volumes,
    }
    if settings.service_account is not None:
        pod_spec["serviceAccountName"] = settings.service_account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": worker_pod_name(job.metadata.name, shard),
            "namespace": job.metadata.namespace or "default",
            "labels": labels,
            "annotations": {"portalis.dev/spot-mode": spot_mode.value},
            "ownerReferences": [owner_reference(job)],
        },
        "spec": pod_spec,
    }
