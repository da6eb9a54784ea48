"""Pure parts of the local control plane: node manifests, pinned versions, certificates, processes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from cryptography import x509

from harness import wait_for
from portalis_dev import nodes, pki, processes
from portalis_dev.cluster import ClusterError, allocate_ports, port_free
from portalis_dev.layout import GOMOD_DIR
from portalis_dev.versions import TOOLS

pytestmark = pytest.mark.unit


def test_spot_node_has_gpus_labels_and_taint() -> None:
    n = nodes.build_node(nodes.DGXNode(name="dgx-a-spot-0", capacity_type="spot", zone="local-b", pool="a"))
    assert n["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert n["status"]["allocatable"] == n["status"]["capacity"]
    labels = n["metadata"]["labels"]
    assert labels[nodes.CAPACITY_TYPE_LABEL] == "spot"
    assert labels[nodes.ZONE_LABEL] == "local-b"
    assert labels[nodes.INSTANCE_TYPE_LABEL]
    assert n["spec"]["taints"] == [{"key": "portalis.dev/spot", "value": "true", "effect": "NoSchedule"}]
    assert n["metadata"]["annotations"][nodes.KWOK_ANNOTATION] == "fake"


def test_on_demand_node_is_untainted() -> None:
    n = nodes.build_node(nodes.DGXNode(name="x", capacity_type="on-demand"))
    assert n["spec"]["taints"] == []
    assert n["metadata"]["labels"][nodes.CAPACITY_TYPE_LABEL] == "on-demand"


def test_next_names_fill_gaps_first() -> None:
    existing = {"dgx-p-spot-0", "dgx-p-spot-2", "dgx-p-od-1"}
    assert nodes.next_names(existing, "p", "spot", 3) == ["dgx-p-spot-1", "dgx-p-spot-3", "dgx-p-spot-4"]
    assert nodes.next_names(existing, "p", "on-demand", 1) == ["dgx-p-od-0"]


@pytest.mark.parametrize("t", [t for t in TOOLS if t.wrapper], ids=lambda t: t.name)
def test_wrapper_modules_require_the_pinned_versions(t: object) -> None:
    from portalis_dev.versions import Tool

    assert isinstance(t, Tool)
    gomod = (GOMOD_DIR / str(t.wrapper) / "go.mod").read_text()
    main_module = t.packages[0].split("/cmd/")[0] if "/cmd/" in t.packages[0] else t.packages[0]
    assert re.search(
        rf"^\s*(require\s+)?{re.escape(main_module)} {re.escape(t.version)}( // indirect)?$", gomod, re.M
    )
    if t.name == "kubernetes":
        staging = re.findall(r"^\s*(k8s\.io/\S+) => \S+ (v\S+)$", gomod, re.M)
        assert len(staging) > 25
        assert {v for _, v in staging} == {"v0." + t.version.split(".", 1)[1]}


def test_certificates_chain_to_the_ca_and_cover_loopback(tmp_path: Path) -> None:
    pki.generate(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    serving = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    admin = x509.load_pem_x509_certificate((tmp_path / "admin.crt").read_bytes())
    admin.verify_directly_issued_by(ca)
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    assert (tmp_path / "sa.key").stat().st_mode & 0o777 == 0o600


def test_taken_port_is_refused_by_name() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not port_free(taken)
        with pytest.raises(ClusterError, match=f"port {taken} on 127.0.0.1 is taken"):
            allocate_ports(taken)


def test_allocated_ports_are_distinct() -> None:
    p = allocate_ports()
    assert len(set(vars(p).values())) == 6


def test_stop_terminates_the_recorded_process_group(tmp_path: Path) -> None:
    rec = processes.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path)
    assert processes.alive(rec)
    assert processes.recorded(tmp_path) == [rec]
    processes.stop(rec, tmp_path, grace=5)
    assert not processes.alive(rec)
    assert processes.recorded(tmp_path) == []


def test_alive_is_false_for_a_reused_pid(tmp_path: Path) -> None:
    rec = processes.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path)
    try:
        impostor = processes.Recorded("sleeper", rec.pid, "/nonexistent/other-binary")
        assert not processes.alive(impostor)
    finally:
        processes.stop(rec, tmp_path, grace=5)


def test_a_script_started_through_its_shebang_is_recognised(tmp_path: Path) -> None:
    script = tmp_path / "long-running"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    script.chmod(0o755)
    rec = processes.start("script", [str(script)], tmp_path)
    try:
        assert processes.alive(rec)
    finally:
        processes.stop(rec, tmp_path, grace=5)
    assert not processes.alive(rec)


def test_a_stopped_process_restarts_with_its_own_command_line(tmp_path: Path) -> None:
    # Chaos tests stop kube-apiserver and start it again (LocalCluster.stop_apiserver/start_apiserver).
    argv = [sys.executable, "-c", "import time; time.sleep(600)"]
    rec = processes.start("sleeper", argv, tmp_path)
    with pytest.raises(RuntimeError, match="still running"):
        processes.restart("sleeper", tmp_path)
    processes.stop(rec, tmp_path, grace=5)
    again = processes.restart("sleeper", tmp_path)
    try:
        assert processes.alive(again)
        assert again.pid != rec.pid
        # read until non-empty: on a loaded machine the new process's cmdline was once read empty
        cmdline = wait_for(
            lambda: Path(f"/proc/{again.pid}/cmdline").read_bytes(), timeout=10, what="its cmdline"
        )
        assert cmdline.split(b"\0")[:3] == [a.encode() for a in argv]
    finally:
        processes.stop(again, tmp_path, grace=5)
    with pytest.raises(RuntimeError, match="no saved command line"):
        processes.restart("other", tmp_path)
