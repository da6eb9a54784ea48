"""kubectl portalis without a cluster: the archive format both ends share, the upload step a pod runs,
the transfer pods' manifests, what status says, and one-line errors with documented exit codes."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from portalis_kubectl import pod_side, transfer
from portalis_kubectl.cli import main
from portalis_kubectl.commands.fetch import crate_location, verify
from portalis_kubectl.commands.submit import node_selector
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.summary import summarize
from portalis_worker.protocol import tree_digest

pytestmark = pytest.mark.unit


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


FILES = {"pkg/__init__.py": b"", "pkg/a.py": b"def f(): ...\n", "top.py": b"x = 1\n"}


def test_pack_is_deterministic_and_skips_caches_and_links(tmp_path: Path) -> None:
    a = tree(tmp_path / "a", {**FILES, "pkg/__pycache__/a.cpython-311.pyc": b"\0"})
    (a / "link.py").symlink_to(a / "top.py")
    b = tree(tmp_path / "b", FILES)
    os.utime(b / "top.py", (1, 1))
    assert pod_side.pack(a, pod_side.SKIP_DIRS) == pod_side.pack(b, pod_side.SKIP_DIRS)
    out = tmp_path / "out"
    assert sorted(pod_side.unpack(pod_side.pack(a, pod_side.SKIP_DIRS), out)) == sorted(FILES)
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == FILES


def _archive(name: str, kind: bytes = tarfile.REGTYPE) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        tar.addfile(info, io.BytesIO(b""))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "kind"),
    [("../escape.py", tarfile.REGTYPE), ("/abs.py", tarfile.REGTYPE), ("link.py", tarfile.SYMTYPE)],
)
def test_unpack_refuses_what_could_write_outside(tmp_path: Path, name: str, kind: bytes) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        pod_side.unpack(_archive(name, kind), tmp_path / "dest")
    assert not (tmp_path / "escape.py").exists()


def test_the_upload_step_checks_the_digest_and_replaces_the_destination(tmp_path: Path) -> None:
    data = pod_side.pack(tree(tmp_path / "src", FILES))
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(0, len(data), 100):
        (parts / f"part-{i // 100:05d}").write_bytes(data[i : i + 100])
    dest = tree(tmp_path / "vol" / "dest", {"stale.py": b"old"})
    assert pod_side.main(["upload", str(parts), str(dest), "0" * 64]) == 4  # wrong digest: untouched
    assert (dest / "stale.py").exists()
    assert pod_side.main(["upload", str(parts), str(dest), hashlib.sha256(data).hexdigest()]) == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == sorted(FILES)
    assert pod_side.main(["export", str(tmp_path / "missing"), "sa", "ns", "p", "uid"]) == 3


def test_transfer_pods_are_restricted_and_bounded() -> None:
    opts = transfer.PodOptions(node_selector={"type": "agent"})
    up = transfer.upload_pod(
        "j-upload-1", "src", "/portalis/sources/j", ["j-upload-1-00000"], "ab" * 32, opts
    )
    spec = up["spec"]
    (container,) = spec["containers"]
    assert container["command"][:2] == ["python3", "-c"]
    assert container["command"][3:] == [
        "upload",
        transfer.PARTS_DIR,
        f"{transfer.VOLUME_DIR}/portalis/sources/j",
        "ab" * 32,
    ]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["activeDeadlineSeconds"] == transfer.POD_DEADLINE_SECONDS
    assert spec["nodeSelector"] == {"type": "agent"}
    down = transfer.export_pod(
        "j-fetch-1", "team", "out", "/crates/j/shopkit", transfer.PodOptions(node_name="n1")
    )
    assert down["spec"]["serviceAccountName"] == transfer.SERVICE_ACCOUNT
    assert down["spec"]["nodeName"] == "n1"
    assert down["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
    assert down["spec"]["containers"][0]["command"][3:] == [
        "export",
        f"{transfer.VOLUME_DIR}/crates/j/shopkit",
        transfer.SA_DIR,
        "team",
        "j-fetch-1",
        "$(POD_UID)",
    ]


def test_the_script_a_pod_runs_is_the_module_itself() -> None:
    pod = transfer.upload_pod("p", "c", "/d", ["p-00000"], "0" * 64, transfer.PodOptions())
    source = pod["spec"]["containers"][0]["command"][2]
    assert source == Path(pod_side.__file__).read_text()
    assert "$(" not in source  # Kubernetes would expand $(VAR) in a container's command
    compile(source, "pod_side", "exec")


def test_crate_location_and_digest_check() -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "output": {"persistentVolumeClaim": {"claimName": "out", "path": "/crates/j/"}},
            "target": {"crateName": "shopkit"},
        },
        "status": {"result": {"crate": {"digest": tree_digest(FILES)}}},
    }
    assert crate_location(job) == ("out", "/crates/j/shopkit")
    assert verify(job, FILES) is None
    assert "not the one the job reported" in (verify(job, {**FILES, "Cargo.lock": b""}) or "")
    with pytest.raises(PluginError, match="ConfigMap") as err:
        crate_location(
            {**job, "spec": {"output": {"configMap": {"name": "x"}}, "target": {"crateName": "c"}}}
        )
    assert err.value.code is Exit.NOT_FOUND


def test_status_summary_of_a_queued_and_a_running_job() -> None:
    queued = summarize(
        {
            "metadata": {"name": "j", "namespace": "team"},
            "spec": {"priority": "low", "parallelism": 2},
            "status": {"phase": "Queued", "queue": {"position": 3, "reason": "InsufficientCapacity"}},
        }
    )
    assert queued.lines()[:2] == [
        "team/j: Queued (priority low)",
        "queue:      position 3: InsufficientCapacity",
    ]
    running = summarize(
        {
            "metadata": {"name": "j", "namespace": "team"},
            "spec": {"parallelism": 2},
            "status": {
                "phase": "Running",
                "progress": {"unitsTotal": 200, "unitsDone": 90, "unitsFailed": 10, "percent": 50},
                "workers": [{"shard": 0, "phase": "Running"}, {"shard": 1, "phase": "Pending"}],
                "recoveries": {"reclaims": 2, "errorRetries": 0},
                "cost": {"gpuSecondsSpot": 3600, "gpuSecondsOnDemand": 0, "estimatedUSD": 1.1},
            },
        }
    )
    text = "\n".join(running.lines())
    assert "100/200 units (50%), 10 failed" in text
    assert "workers:    1/2 running" in text
    assert "2 spot reclaims" in text
    assert "1.00 GPU-hours, about $1.10" in text


def test_node_selector_pairs() -> None:
    assert node_selector(["a=b", "c="]) == {"a": "b", "c": ""}
    with pytest.raises(PluginError):
        node_selector(["nope"])


def test_errors_are_one_line_with_their_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-kubeconfig"
    assert main(["--kubeconfig", str(missing), "queue"]) == Exit.USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: kubeconfig:")
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as usage:
        main(["fetch", "j"])  # -o is required
    assert usage.value.code == Exit.USAGE
