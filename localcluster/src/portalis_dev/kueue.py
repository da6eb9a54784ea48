"""Kueue's manager (sigs.k8s.io/kueue, built by the toolchain) run against a local control plane.

For side-by-side measurements (benchmarks/operator_admission.py): the same API server, nodes and capacity
as our operator, Kueue as its release manifests configure it (client QPS 50, burst 100; the shipped
controller concurrency), with only the batch/job integration on and no leader election.

Outside a cluster two things of Kueue's deployment are missing, and stand-ins take their place:
- Its webhooks are not registered with the API server (no ValidatingWebhookConfiguration or
  MutatingWebhookConfiguration): the Jobs are created suspended, which is what Kueue's Job webhook would
  have made them. Its webhook server still starts, with a self-signed loopback certificate.
- Kueue's internal certificate management stays on: with it off, the manager reads its metrics
  certificate from a fixed path under /etc (cmd/kueue/main.go, `/etc/kueue/metrics/certs`), which a
  local run must not write. The cert rotator needs its Secret to exist (the manifests ship it empty), the
  five CRDs that Kueue converts to carry a conversion-webhook section to inject its CA into (the
  manifests' config/components/crd/patches), and the certificate files in the webhook's certDir (a
  Secret volume in a pod; here the self-signed pair above). The conversion webhook is never called:
  every client here, Kueue included, uses the storage version v1beta2, the only one served.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from portalis_dev import pki, processes
from portalis_dev.cluster import LocalCluster
from portalis_dev.demo import APPLY, FIELD_MANAGER, wait_until
from portalis_dev.toolchain import ensure_built, kueue_crds_file

GROUP = "kueue.x-k8s.io"
VERSION = "v1beta2"  # the storage version of every Kueue CRD in v0.17
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
NAMESPACE = "kueue-system"
WEBHOOK_SERVICE = "kueue-webhook-service"
WEBHOOK_SECRET = "kueue-webhook-server-cert"
# The CRDs whose conversion webhook the manifests patch in, and Kueue's cert rotator injects a CA into.
CONVERTED_CRDS = ("localqueues", "clusterqueues", "workloads", "cohorts", "multikueueclusters")
PROCESS = "kueue"
RELEASE_QPS = 50.0  # clientConnection.qps of the release's Configuration (burst 100)

Progress = Callable[[str], None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_conversion(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CRDs with the conversion-webhook section of Kueue's manifests on the ones it converts, whose
    other versions (v1beta1) are not served: the API server keeps a watch cache per served version, and
    the v1beta1 one would call the (unreachable) webhook for every object, fail and list again, over and
    over (measured: about 6 failures a second in kube-apiserver's log during a 1,000-job run)."""
    converted = {f"{plural}.{GROUP}" for plural in CONVERTED_CRDS}
    for doc in docs:
        if doc["metadata"]["name"] in converted:
            for version in doc["spec"]["versions"]:
                if not version.get("storage"):
                    version["served"] = False
            doc["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": {
                        "service": {"namespace": NAMESPACE, "name": WEBHOOK_SERVICE, "path": "/convert"}
                    },
                    "conversionReviewVersions": ["v1"],
                },
            }
    return docs


def crd_documents() -> list[dict[str, Any]]:
    """Kueue's CRDs as its module ships them (copied beside the binary), with_conversion."""
    return with_conversion([d for d in yaml.safe_load_all(kueue_crds_file().read_text()) if d])


def install_crds(ext: Any, timeout: float = 120.0) -> list[str]:
    """Apply Kueue's CRDs server-side and wait until each is Established; returns their names."""
    names: list[str] = []
    for body in crd_documents():
        name = body["metadata"]["name"]
        ext.patch_custom_resource_definition(
            name, body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )
        names.append(name)

    for name in names:

        def established(name: str = name) -> bool:
            crd = ext.read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

        wait_until(established, timeout, f"CRD {name} to be Established")
    return names


def configuration(
    health_port: int, webhook_port: int, cert_dir: Path, qps: float = RELEASE_QPS
) -> dict[str, Any]:
    """Kueue's Configuration (config.kueue.x-k8s.io/v1beta2): the release's settings
    (config/components/manager/controller_manager_config.yaml) for loopback and one replica. `qps`: its
    API client's rate limit (the release's 50, burst twice that); negative turns client-side limiting off."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        "metrics": {"bindAddress": "0"},  # off: nothing scrapes it here
        "webhook": {"host": "127.0.0.1", "port": webhook_port, "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "controller": {
            "groupKindConcurrency": {
                "Job.batch": 5,
                "Pod": 5,
                "Workload.kueue.x-k8s.io": 5,
                "LocalQueue.kueue.x-k8s.io": 1,
                "Cohort.kueue.x-k8s.io": 1,
                "ClusterQueue.kueue.x-k8s.io": 1,
                "ResourceFlavor.kueue.x-k8s.io": 1,
            }
        },
        "clientConnection": {"qps": qps, "burst": max(int(2 * qps), 1)},
        "internalCertManagement": {
            "enable": True,
            "webhookServiceName": WEBHOOK_SERVICE,
            "webhookSecretName": WEBHOOK_SECRET,
        },
        "integrations": {"frameworks": ["batch/job"]},
        # The visibility API server (on by default) wants to be an aggregated API server: not needed here.
        "featureGates": {"VisibilityOnDemand": False},
    }


def _ensure(create: Callable[[], Any]) -> None:
    try:
        create()
    except Exception as exc:
        if getattr(exc, "status", None) != 409:  # already there
            raise


@dataclass
class Kueue:
    """A running Kueue manager (a process recorded in the control plane's state directory)."""

    rec: processes.Recorded
    state_dir: Path
    health_port: int
    log: Path

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
        return False

    def wait_ready(self, timeout: float) -> None:
        """Until /readyz answers 200; RuntimeError with the end of its log when it exits or times out."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            exited = not processes.alive(self.rec)
            if exited or time.monotonic() > deadline:
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
                what = "exited" if exited else f"was not ready after {timeout:.0f} s"
                raise RuntimeError(f"the Kueue manager {what}; the end of {self.log}:\n{tail}")
            time.sleep(0.5)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.rec.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        processes.stop(self.rec, self.state_dir)


def start(
    cluster: LocalCluster,
    core: Any,
    ext: Any,
    progress: Progress = print,
    timeout: float = 180,
    qps: float = RELEASE_QPS,
) -> Kueue:
    """Build Kueue on first use, install its CRDs and start its manager against `cluster`; returns once
    the manager reports ready (certificates in place, webhook server up)."""
    binary = ensure_built(["kueue"], progress)["kueue"]
    install_crds(ext)
    _ensure(lambda: core.create_namespace({"metadata": {"name": NAMESPACE}}))
    _ensure(
        lambda: core.create_namespaced_secret(
            NAMESPACE, {"metadata": {"name": WEBHOOK_SECRET}, "type": "Opaque"}
        )
    )
    home = cluster.state_dir / "kueue"
    cert_dir = home / "serving-certs"
    pki.self_signed_serving(cert_dir, "kueue-webhook", (f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc", "localhost"))
    health_port, webhook_port = _free_port(), _free_port()
    config_file = home / "config.yaml"
    config_file.write_text(
        yaml.safe_dump(configuration(health_port, webhook_port, cert_dir, qps), sort_keys=False)
    )
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    # --zap-log-level=2: as the release's Deployment runs it.
    argv = [str(binary), f"--config={config_file}", "--zap-log-level=2"]
    rec = processes.start(PROCESS, argv, cluster.state_dir, env=env)
    kueue = Kueue(rec, cluster.state_dir, health_port, cluster.state_dir / "logs" / f"{PROCESS}.log")
    try:
        kueue.wait_ready(timeout)
    except BaseException:
        kueue.stop()
        raise
    return kueue
