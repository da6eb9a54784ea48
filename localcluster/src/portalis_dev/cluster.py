"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

Everything runs on loopback as the current user, started the way envtest starts it (TLS, client
certificates, RBAC, service-account keys), with data, logs, certificates and pid files in one state
directory. Ports are picked free at start-up, so two state directories never collide; an explicitly
requested API server port that is taken is refused with a clear error.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from portalis_dev import pki, processes
from portalis_dev.toolchain import bin_dirs, ensure_built, kwok_stages_file

Progress = Callable[[str], None]

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
SERVICE_CIDR = "10.0.0.0/24"


PROFILING_ENV = "PORTALIS_APISERVER_PROFILING"
"""Set (to anything) when the control plane starts: the API server serves /debug/pprof."""


class ClusterError(RuntimeError):
    """The control plane could not be brought up or down; the message says which part and why."""


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


@dataclass(frozen=True)
class Status:
    state_dir: Path
    running: dict[str, bool]
    ready: bool
    server: str | None

    @property
    def up(self) -> bool:
        return self.ready and all(self.running.values())


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int, avoid: set[int]) -> list[int]:
    ports: list[int] = []
    socks: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p not in avoid:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def allocate_ports(apiserver_port: int | None = None) -> Ports:
    if apiserver_port is not None and not port_free(apiserver_port):
        raise ClusterError(
            f"port {apiserver_port} on 127.0.0.1 is taken (another control plane or service?); "
            "choose another with --port, or leave --port out to pick a free one"
        )
    avoid = {apiserver_port} if apiserver_port else set()
    free = _free_ports(6, avoid)
    return Ports(
        etcd_client=free[0],
        etcd_peer=free[1],
        apiserver=apiserver_port or free[2],
        controller_manager=free[3],
        scheduler=free[4],
        kwok=free[5],
    )


class LocalCluster:
    """One control plane, identified by its state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.pki_dir = self.state_dir / "pki"
        self.kubeconfig = self.state_dir / "kubeconfig"
        self._meta = self.state_dir / "cluster.json"

    # ---- queries -------------------------------------------------------------------------------

    def ports(self) -> Ports | None:
        if not self._meta.is_file():
            return None
        return Ports(**json.loads(self._meta.read_text())["ports"])

    @property
    def server(self) -> str | None:
        p = self.ports()
        return f"https://127.0.0.1:{p.apiserver}" if p else None

    def status(self) -> Status:
        recs = {r.name: processes.alive(r) for r in processes.recorded(self.state_dir)}
        running = {c: recs.get(c, False) for c in COMPONENTS}
        ready = bool(self.server) and running["kube-apiserver"] and self._readyz()
        return Status(self.state_dir, running, ready, self.server)

    def env(self) -> dict[str, str]:
        path = os.pathsep.join([*(str(d) for d in bin_dirs()), os.environ.get("PATH", "")])
        return {"KUBECONFIG": str(self.kubeconfig), "PATH": path}

    # ---- health --------------------------------------------------------------------------------

    def _client_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        ctx.load_cert_chain(str(self.pki_dir / "admin.crt"), str(self.pki_dir / "admin.key"))
        return ctx

    def _readyz(self) -> bool:
        if not self.server:
            return False
        return _get_ok(f"{self.server}/readyz", self._client_ssl())

    # ---- lifecycle -----------------------------------------------------------------------------

    def up(self, apiserver_port: int | None = None, progress: Progress = print) -> Status:
        st = self.status()
        if st.up:
            progress(f"control plane already up at {st.server} (state: {self.state_dir})")
            return st
        if any(st.running.values()) or self._meta.exists():
            progress("found stale control-plane state (a crash or an interrupted start); cleaning it up")
            self._teardown()
        paths = ensure_built(["kubernetes", "etcd", "kwok"], progress)
        started = time.monotonic()
        self._prepare(apiserver_port)
        try:
            self._start_all(paths, progress)
        except BaseException:
            self._stop_all()
            raise
        progress(f"control plane up at {self.server} in {time.monotonic() - started:.1f} s")
        return self.status()

    def down(self, progress: Progress = print) -> None:
        self._stop_all()
        left = [r for r in processes.recorded(self.state_dir) if processes.alive(r)]
        if left:
            raise ClusterError(f"processes still running after down: {left}")
        self._meta.unlink(missing_ok=True)
        progress(f"control plane down (state kept in {self.state_dir})")

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver alone, as an outage does: its clients get "connection refused" until
        `start_apiserver`; etcd (and so every object), the other components, node agents and the
        operator keep running. For chaos tests."""
        rec = next((r for r in processes.recorded(self.state_dir) if r.name == "kube-apiserver"), None)
        if rec is None or not processes.alive(rec):
            raise ClusterError("kube-apiserver is not running")
        processes.stop(rec, self.state_dir)

    def start_apiserver(self, timeout: float = 120) -> None:
        """Start kube-apiserver again after `stop_apiserver`, with the same flags, and wait until ready."""
        processes.restart("kube-apiserver", self.state_dir)
        self._wait("kube-apiserver", self._readyz, timeout=timeout)

    def _teardown(self) -> None:
        self._stop_all()
        for sub in ("etcd", "pki", "pids", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        self._meta.unlink(missing_ok=True)

    def _stop_all(self) -> None:
        # Clients before the servers they talk to: first what runs on top (node agents, the operator),
        # then the control plane in reverse start order.
        recs = {r.name: r for r in processes.recorded(self.state_dir)}
        for rec in [r for n, r in recs.items() if n not in COMPONENTS]:
            processes.stop(rec, self.state_dir)
        for name in reversed(COMPONENTS):
            if name in recs:
                processes.stop(recs[name], self.state_dir)

    def _prepare(self, apiserver_port: int | None) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        logs = self.state_dir / "logs"
        if logs.is_dir():
            prev = self.state_dir / "logs.previous"
            shutil.rmtree(prev, ignore_errors=True)
            logs.rename(prev)
        shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
        ports = allocate_ports(apiserver_port)
        pki.generate(self.pki_dir)
        server = f"https://127.0.0.1:{ports.apiserver}"
        for ident in pki.IDENTITIES:
            target = self.kubeconfig if ident is pki.ADMIN else self.state_dir / f"{ident.stem}.kubeconfig"
            pki.write_kubeconfig(target, server, self.pki_dir, ident, "portalis-local")
        self._meta.write_text(json.dumps({"ports": asdict(ports)}, indent=2))

    def _start_all(self, bins: dict[str, Path], progress: Progress) -> None:
        ports = self.ports()
        assert ports is not None
        sd, pk = self.state_dir, self.pki_dir
        etcd_url = f"http://127.0.0.1:{ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
        progress("starting etcd")
        processes.start(
            "etcd",
            [
                str(bins["etcd"]),
                "--name=portalis",
                f"--data-dir={sd / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=portalis={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            sd,
        )
        self._wait("etcd", lambda: _get_ok(f"{etcd_url}/health", None))

        progress("starting kube-apiserver")
        processes.start(
            "kube-apiserver",
            [
                str(bins["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports.apiserver}",
                f"--cert-dir={sd / 'kube-apiserver'}",
                f"--tls-cert-file={pk / 'apiserver.crt'}",
                f"--tls-private-key-file={pk / 'apiserver.key'}",
                f"--client-ca-file={pk / 'ca.crt'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pk / 'sa.pub'}",
                f"--service-account-signing-key-file={pk / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                # Real kubelet nodes (realnode.py) serve logs and exec on their InternalIP and trust
                # client certificates of the cluster CA; simulated nodes never get these requests.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={pk / 'admin.crt'}",
                f"--kubelet-client-key={pk / 'admin.key'}",
                "--max-requests-inflight=1000",
                "--max-mutating-requests-inflight=500",
                # /debug/pprof for profiling the API server under a benchmark (benchmarks/README.md)
                f"--profiling={'true' if os.environ.get(PROFILING_ENV) else 'false'}",
            ],
            sd,
        )
        self._wait("kube-apiserver", self._readyz, timeout=120)

        common = [
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        ]
        cm_kc = sd / "controller-manager.kubeconfig"
        progress("starting kube-controller-manager and kube-scheduler")
        processes.start(
            "kube-controller-manager",
            [
                str(bins["kube-controller-manager"]),
                f"--kubeconfig={cm_kc}",
                f"--authentication-kubeconfig={cm_kc}",
                f"--authorization-kubeconfig={cm_kc}",
                f"--secure-port={ports.controller_manager}",
                f"--cert-dir={sd / 'kube-controller-manager'}",
                f"--root-ca-file={pk / 'ca.crt'}",
                f"--service-account-private-key-file={pk / 'sa.key'}",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={pk / 'ca.crt'}",
                f"--cluster-signing-key-file={pk / 'ca.key'}",
                *common,
            ],
            sd,
        )
        sch_kc = sd / "scheduler.kubeconfig"
        processes.start(
            "kube-scheduler",
            [
                str(bins["kube-scheduler"]),
                f"--kubeconfig={sch_kc}",
                f"--authentication-kubeconfig={sch_kc}",
                f"--authorization-kubeconfig={sch_kc}",
                f"--secure-port={ports.scheduler}",
                f"--cert-dir={sd / 'kube-scheduler'}",
                *common,
            ],
            sd,
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # their serving certs are self-signed; health only
        self._wait(
            "kube-controller-manager",
            lambda: _get_ok(f"https://127.0.0.1:{ports.controller_manager}/healthz", insecure),
        )
        self._wait(
            "kube-scheduler", lambda: _get_ok(f"https://127.0.0.1:{ports.scheduler}/healthz", insecure)
        )

        progress("starting kwok (simulated DGX nodes)")
        processes.start(
            "kwok",
            [
                str(bins["kwok"]),
                f"--kubeconfig={sd / 'kwok.kubeconfig'}",
                f"--config={kwok_stages_file()}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{ports.kwok}",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
            ],
            sd,
        )
        self._wait("kwok", lambda: _get_ok(f"http://127.0.0.1:{ports.kwok}/healthz", None))
        # A namespace is usable once the controller-manager has given it its default ServiceAccount.
        self._wait("default ServiceAccount", self._default_service_account_exists)

    def _default_service_account_exists(self) -> bool:
        assert self.server
        try:
            with urllib.request.urlopen(
                f"{self.server}/api/v1/namespaces/default/serviceaccounts/default",
                context=self._client_ssl(),
                timeout=5,
            ) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        recs = {r.name: r for r in processes.recorded(self.state_dir)}
        while time.monotonic() < deadline:
            if ready():
                return
            rec = recs.get(what)
            if rec is not None and not processes.alive(rec):
                raise ClusterError(f"{what} exited during start-up:\n{self.log_tail(what)}")
            time.sleep(0.2)
        raise ClusterError(f"{what} not ready after {timeout:.0f} s:\n{self.log_tail(what)}")

    def log_tail(self, component: str, lines: int = 20) -> str:
        log = self.state_dir / "logs" / f"{component}.log"
        if not log.is_file():
            return f"(no log at {log})"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _get_ok(url: str, ctx: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
