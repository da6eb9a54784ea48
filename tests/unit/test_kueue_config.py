"""How Kueue is run beside the operator for the admission benchmark (portalis_dev.kueue): its
Configuration, the CRDs' conversion section its cert rotator needs, and the webhook's loopback certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from portalis_dev import kueue, pki
from portalis_dev.versions import KUEUE, tool

pytestmark = pytest.mark.unit


def _crd(plural: str) -> dict[str, Any]:
    versions = [
        {"name": "v1beta1", "served": True, "storage": False},
        {"name": "v1beta2", "served": True, "storage": True},
    ]
    return {
        "metadata": {"name": f"{plural}.kueue.x-k8s.io"},
        "spec": {"group": "kueue.x-k8s.io", "versions": versions},
    }


def test_only_the_converted_crds_get_a_conversion_webhook() -> None:
    docs = kueue.with_conversion([_crd(p) for p in ("workloads", "clusterqueues", "resourceflavors")])
    by_name = {d["metadata"]["name"]: d["spec"] for d in docs}
    for plural in ("workloads", "clusterqueues"):
        conversion = by_name[f"{plural}.kueue.x-k8s.io"]["conversion"]
        assert conversion["strategy"] == "Webhook"
        assert conversion["webhook"]["clientConfig"]["service"]["namespace"] == kueue.NAMESPACE
    assert "conversion" not in by_name["resourceflavors.kueue.x-k8s.io"]
    # Only the storage version is served where conversion would need the webhook.
    served = {v["name"]: v["served"] for v in by_name["workloads.kueue.x-k8s.io"]["versions"]}
    assert served == {"v1beta1": False, "v1beta2": True}


def test_configuration_is_one_loopback_replica_with_the_release_client_limits(tmp_path: Path) -> None:
    cfg = kueue.configuration(18081, 19443, tmp_path)
    assert cfg["apiVersion"] == "config.kueue.x-k8s.io/v1beta2"
    assert cfg["health"]["healthProbeBindAddress"] == "127.0.0.1:18081"
    assert cfg["webhook"] == {"host": "127.0.0.1", "port": 19443, "certDir": str(tmp_path)}
    assert cfg["leaderElection"] == {"leaderElect": False}
    assert cfg["clientConnection"] == {"qps": 50, "burst": 100}
    # The benchmark's --kueue-qps -1: Kueue leaves its client unlimited for a negative QPS.
    assert kueue.configuration(18081, 19443, tmp_path, qps=-1)["clientConnection"]["qps"] == -1
    assert cfg["integrations"] == {"frameworks": ["batch/job"]}
    # On: with it off, Kueue reads a metrics certificate from a fixed path under /etc.
    assert cfg["internalCertManagement"]["enable"] is True
    assert cfg["internalCertManagement"]["webhookSecretName"] == kueue.WEBHOOK_SECRET


def test_the_webhook_certificate_covers_loopback(tmp_path: Path) -> None:
    pki.self_signed_serving(tmp_path, "kueue-webhook", ("kueue-webhook-service.kueue-system.svc",))
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kueue-webhook-service.kueue-system.svc" in sans.get_values_for_type(x509.DNSName)
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (tmp_path / "tls.key").stat().st_mode & 0o077 == 0


def test_kueue_is_a_pinned_plain_go_install() -> None:
    t = tool("kueue")
    assert t.version == KUEUE
    assert t.install == "sigs.k8s.io/kueue/cmd/kueue"
    assert t.binaries == ("kueue",)
