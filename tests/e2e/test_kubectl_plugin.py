"""End to end: `kubectl portalis` (issue 16) through the real kubectl, operator, node agent and workers.

`submit examples/sample-project --wait` packs the directory onto a PVC through an upload pod, creates the
job and follows it; `fetch` brings back a crate byte-identical to the one on the PVC; `report` lists the
sample's deliberate failures; status.result names the same crate (digest) and says it builds. The same
through a git source: the sample committed to a repository served over HTTPS (git's dumb HTTP protocol,
a certificate authority of the test's own that the workers' git is told to trust through the agent's
environment) gives the same crate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portalis_dev import demo
from portalis_dev.agent import stop_agent
from portalis_dev.agent.nodes import NODE_TYPE
from portalis_dev.cluster import LocalCluster
from portalis_dev.nodes import POOL_LABEL
from portalis_dev.toolchain import binary
from portalis_worker.protocol import tree_digest

pytestmark = pytest.mark.e2e

NODES = {"on-demand": 1, "spot": 1}
JOB = "sample"
CRATE = "shopkit"
MOST_FAILURES = 6
"""examples/README.md: 205 units, 199 translated, 6 failed on purpose; the translator may only get better."""
UNTRANSLATABLE = {
    ("shopkit/broken/syntax_error.py", "syntax-error"),
    ("shopkit/broken/latin1_notes.py", "non-utf8"),
    ("shopkit/broken/junk.py", "binary"),
}
"""Of those, the files no translator can read: they fail whatever the translator learns."""


@dataclass
class Env:
    cluster: LocalCluster
    namespace: str
    volumes: demo.Volumes
    work: Path

    def kubectl(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """`kubectl portalis -n <namespace> ...` as a user runs it: kubectl finds kubectl-portalis on PATH."""
        env = {**os.environ, **self.cluster.env()}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        return subprocess.run(
            [str(binary("kubectl")), "portalis", "-n", self.namespace, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1, made for this test only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("portalis e2e CA", ca_key, "portalis e2e CA", ca_key, ca=True)
    server = cert("127.0.0.1", server_key, "portalis e2e CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@contextlib.contextmanager
def git_server(directory: Path) -> Iterator[str]:
    """examples/sample-project committed on branch main of a bare repository, served over HTTPS; yields
    its URL. Sets GIT_SSL_CAINFO (read by the agent started after, and so by its workers' git)."""
    directory.mkdir(parents=True, exist_ok=True)
    work, bare = directory / "work", directory / "www" / "sample.git"
    shutil.copytree(demo.SAMPLE_PROJECT, work, ignore=shutil.ignore_patterns("__pycache__"))
    git = [
        "git",
        "-c",
        "user.name=e2e",
        "-c",
        "user.email=e2e@example.invalid",
        "-c",
        "init.defaultBranch=main",
    ]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "sample"]):
        subprocess.run([*git, *args], cwd=work, check=True, capture_output=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    subprocess.run(["git", "update-server-info"], cwd=bare, check=True, capture_output=True)
    ca, certificate, key = _certificates(directory)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    previous = os.environ.get("GIT_SSL_CAINFO")
    os.environ["GIT_SSL_CAINFO"] = str(ca)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/sample.git"
    finally:
        server.shutdown()
        server.server_close()
        if previous is None:
            os.environ.pop("GIT_SSL_CAINFO", None)
        else:
            os.environ["GIT_SSL_CAINFO"] = previous


@contextlib.contextmanager
def plugin_env(cluster: LocalCluster, namespace: str) -> Iterator[Env]:
    clients = demo.Clients.of(cluster)
    demo.install_crds(clients)
    work = cluster.state_dir / "e2e" / namespace
    claims = demo.job_manifest(namespace)  # only for its claim names: sample-source, translation-output
    volumes = demo.volume_manifests(namespace, work, claims)
    operator = f"operator-{namespace}"
    try:
        demo.ensure_agent(cluster, namespace, NODES, delete_nodes_on_exit=True)
        demo.apply_pool(clients, demo.pool_manifest(namespace))
        demo.wipe_directory(volumes.output_dir)
        demo.wipe_directory(volumes.source_dir)
        demo.apply_volumes(clients, volumes)
        demo.start_operator(cluster, namespace, [namespace], name=operator)
        yield Env(cluster, namespace, volumes, work)
    finally:
        demo.stop_process(cluster, operator)
        stop_agent(cluster, pool=namespace)
        with contextlib.suppress(Exception):
            clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)
        demo.delete_volumes(clients, volumes)
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Run:
    env: Env
    submit: subprocess.CompletedProcess[str]
    job: dict[str, Any]
    name: str

    @property
    def pvc_crate(self) -> Path:
        return self.env.volumes.output_dir / "portalis" / "crates" / self.name / CRATE


@pytest.fixture(scope="module")
def env(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    """One namespace, agent, pool, volumes and operator for both submissions; the git server's URL."""
    clients = demo.Clients.of(cluster)
    namespace = f"e2e-plugin-{uuid.uuid4().hex[:5]}"
    demo.ensure_namespace(clients, namespace, {"portalis.dev/test": "true"})
    try:
        with git_server(tmp_path_factory.mktemp("git")) as url, plugin_env(cluster, namespace) as e:
            yield e, url
    finally:
        clients.core.delete_namespace(namespace)


def submit(e: Env, name: str, source: str, *extra: str) -> Run:
    done = e.kubectl(
        "submit", source, "--name", name, "--crate-name", CRATE, "--output-claim", e.volumes.output_claim,
        "--parallelism", "3", "--backend", "rules", "--wait", "--timeout", "600", *extra,
    )  # fmt: skip
    return Run(e, done, demo.read_job(demo.Clients.of(e.cluster), e.namespace, name) or {}, name)


@pytest.fixture(scope="module")
def submitted(env: tuple[Env, str]) -> Run:
    e, _ = env
    selector = ["--node-selector", f"{POOL_LABEL}={e.namespace}", "--node-selector", f"type={NODE_TYPE}"]
    return submit(e, JOB, str(demo.SAMPLE_PROJECT), "--source-claim", e.volumes.source_claim, *selector)


@pytest.fixture(scope="module")
def git_submitted(env: tuple[Env, str], submitted: Run) -> Run:
    e, url = env
    return submit(e, f"{JOB}-git", url, "--git-ref", "main")


def test_submit_uploads_the_directory_and_waits_for_success(submitted: Run) -> None:
    assert submitted.submit.returncode == 0, submitted.submit.stderr
    assert submitted.submit.stdout.splitlines()[0] == JOB
    assert "Succeeded" in submitted.submit.stderr
    source = submitted.env.volumes.source_dir / "portalis" / "sources" / JOB

    def sources(root: Path) -> dict[str, bytes]:  # bytecode caches are not uploaded (and CPython writes them)
        return {k: v for k, v in demo.tree_bytes(root, skip=()).items() if "__pycache__" not in k}

    assert sources(source) == sources(demo.SAMPLE_PROJECT)


def test_status_result_names_the_crate_on_the_volume(submitted: Run) -> None:
    result = submitted.job["status"]["result"]
    on_pvc = demo.tree_bytes(submitted.pvc_crate)
    assert result["reported"] is True
    assert result["crate"]["digest"] == tree_digest(on_pvc)
    assert result["crate"]["builds"] is True
    expected = json.loads((submitted.pvc_crate / "translation_report.json").read_bytes())
    assert result["units"]["failed"] == len(expected["failures"]), result
    assert result["units"]["total"] == expected["units"]["total"] == 205
    assert result["output"] == f"pvc://{submitted.env.volumes.output_claim}/portalis/crates/{JOB}/{CRATE}"


def test_fetch_gives_the_crate_byte_for_byte(submitted: Run, tmp_path: Path) -> None:
    env = submitted.env
    on_pvc = demo.tree_bytes(submitted.pvc_crate)
    fetched = env.kubectl("fetch", JOB, "-o", str(tmp_path / "crate"))
    assert fetched.returncode == 0, fetched.stderr
    assert demo.tree_bytes(tmp_path / "crate") == on_pvc
    archive = env.kubectl("fetch", JOB, "-o", str(tmp_path / "crate.tar.gz"))
    assert archive.returncode == 0, archive.stderr
    with tarfile.open(tmp_path / "crate.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert demo.tree_bytes(tmp_path / "unpacked" / CRATE) == on_pvc
    again = env.kubectl("fetch", JOB, "-o", str(tmp_path / "crate"))
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert len(again.stderr.strip().splitlines()) == 1


def test_report_lists_the_deliberate_failures(submitted: Run) -> None:
    env = submitted.env
    expected = json.loads((submitted.pvc_crate / "translation_report.json").read_bytes())
    failures = expected["failures"]
    assert 3 <= len(failures) <= MOST_FAILURES
    assert UNTRANSLATABLE.issubset((f["path"], f["reason"]) for f in failures)
    report = env.kubectl("report", JOB)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert f"{len(failures)} failed" in lines[0]
    assert len(lines) == 3 + len(failures)  # summary, blank, header, one row per failed unit
    for failure in failures:
        assert any(
            failure["path"] in ln and failure["unit"] in ln and failure["reason"] in ln for ln in lines
        ), (
            failure,
            report.stdout,
        )
    every = env.kubectl("report", JOB, "--all", "-o", "json")
    assert every.returncode == 0, every.stderr
    states = json.loads(every.stdout)["unit_states"]
    assert len(states) == expected["units"]["total"]
    assert sum(1 for s in states if s["state"] == "failed") == len(failures)


def test_status_and_queue_read_the_job(submitted: Run) -> None:
    env = submitted.env
    status = env.kubectl("status", JOB)
    assert status.returncode == 0, status.stderr
    assert "Succeeded" in status.stdout
    failed = submitted.job["status"]["result"]["units"]["failed"]
    assert f"{failed} failed; the crate builds" in status.stdout
    as_json = env.kubectl("status", JOB, "-o", "json")
    assert json.loads(as_json.stdout)["status"]["phase"] == "Succeeded"
    queue = env.kubectl("queue")
    assert queue.returncode == 0, queue.stderr  # the finished job is not in the queue
    assert JOB not in queue.stdout
    missing = env.kubectl("status", "no-such-job")
    assert missing.returncode == 3
    assert missing.stderr == f'error: translationjob "no-such-job" not found in namespace "{env.namespace}"\n'


def test_a_git_source_gives_the_same_crate(git_submitted: Run, submitted: Run, tmp_path: Path) -> None:
    assert git_submitted.submit.returncode == 0, git_submitted.submit.stderr
    assert git_submitted.job["spec"]["source"]["git"]["url"].startswith("https://127.0.0.1:")
    on_pvc = demo.tree_bytes(git_submitted.pvc_crate)
    assert on_pvc == demo.tree_bytes(submitted.pvc_crate)  # same code, same crate, whatever the source
    fetched = git_submitted.env.kubectl("fetch", git_submitted.name, "-o", str(tmp_path / "crate"))
    assert fetched.returncode == 0, fetched.stderr
    assert demo.tree_bytes(tmp_path / "crate") == on_pvc
    report = git_submitted.env.kubectl("report", git_submitted.name, "-o", "json")
    assert report.returncode == 0, report.stderr
    expected = json.loads((submitted.pvc_crate / "translation_report.json").read_bytes())
    assert json.loads(report.stdout)["failures"] == expected["failures"]
    result = git_submitted.job["status"]["result"]
    assert result["crate"]["digest"] == submitted.job["status"]["result"]["crate"]["digest"]
