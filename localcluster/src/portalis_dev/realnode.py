"""Real kubelet nodes for the local control plane (`portalis-dev up --real-nodes N`), beside kwok's.

A real node is a kubelet 1.35 (built from the control plane's wrapper module) with its own containerd
1.6 (Debian's, with crun: runc 1.1.5 fails here) in the control plane's state directory, and a CNI
bridge with its own pod subnet. It runs pods from our images (`make images`), imported into its
containerd with their short names normalised as a real node would pull them, so pods use
`imagePullPolicy: Never` or `IfNotPresent` and the chart's default image names. docs/install.md
("Real nodes") says what it took on this machine; the settings below are those findings:

- kubelet: cgroupfs driver, cgroup v1 allowed (`failCgroupV1: false`: the machine has hybrid cgroups), no
  QoS cgroups and no node-allocatable enforcement, swap allowed, its own ports, root and pod-log dirs;
- containerd: its own root, state and socket; the sandbox image is our static `pause` (FROM scratch);
  `restrict_oom_score_adj` (the sandbox may not lower its score); the native snapshotter (no overlay);
- crun refuses hybrid cgroups while the cgroup2 hierarchy still holds a controller: `prepare_host`
  mounts the leftover ones (hugetlb here) on v1 hierarchies, which moves them off cgroup2.

Node IP: the kubelet refuses a loopback node IP, so the Node has no InternalIP and `kubectl logs`
cannot reach it; the container logs are files under the node's `pods/` folder (`pod_logs`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from portalis_dev import processes
from portalis_dev.images import buildah, images_cache
from portalis_dev.layout import REPO_ROOT
from portalis_dev.toolchain import build_tool
from portalis_dev.versions import tool

Progress = Callable[[str], None]

PAUSE_SOURCE = REPO_ROOT / "localcluster" / "pause" / "pause.c"
PAUSE_IMAGE = "localhost/portalis/pause:3.10"
NODE_LABEL = "portalis.dev/real-node"
HOST_PACKAGES = {"containerd": "containerd", "crun": "crun", "gcc": "gcc"}
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PACKAGE = "containernetworking-plugins"
CGROUP_ROOT = Path("/sys/fs/cgroup")


class RealNodeError(RuntimeError):
    """A real node could not be prepared or did not become Ready."""


@dataclass(frozen=True)
class RealNode:
    """One kubelet + containerd pair; `index` picks its ports and its pod subnet."""

    name: str
    index: int
    state_dir: Path
    """The control plane's state directory: processes are recorded there, so `down` stops them."""

    @property
    def root(self) -> Path:
        return self.state_dir / "nodes" / self.name

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def subnet(self) -> str:
        return f"10.244.{self.index}.0/24"

    def ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args]


def _apt_install(packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RealNodeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")


def _free_cgroup2_controllers() -> None:
    unified = CGROUP_ROOT / "unified" / "cgroup.controllers"
    if not unified.is_file():
        return  # pure cgroup v1 or pure v2: crun handles both
    for controller in unified.read_text().split():
        target = CGROUP_ROOT / controller
        target.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", controller, "cgroup", str(target)], check=True)


def prepare_host(progress: Progress = print) -> None:
    """Root, Debian's containerd, crun and CNI plugins (apt-get when missing), cgroups crun accepts."""
    if os.geteuid() != 0:
        raise RealNodeError("real nodes need root (containerd, mounts, network namespaces)")
    missing = sorted({pkg for cmd, pkg in HOST_PACKAGES.items() if shutil.which(cmd) is None})
    if not (CNI_BIN_DIR / "bridge").is_file():
        missing.append(CNI_PACKAGE)
    if missing:
        progress(f"portalis-dev: installing {' '.join(missing)} with apt-get (one-time)")
        _apt_install(missing)
    _free_cgroup2_controllers()


def pause_archive(progress: Progress = print) -> Path:
    """The sandbox image as an OCI archive, built once per source digest."""
    digest = hashlib.sha256(PAUSE_SOURCE.read_bytes()).hexdigest()[:16]
    archive = images_cache() / "archives" / f"pause-{digest}.oci.tar"
    if archive.is_file():
        return archive
    progress("portalis-dev: building the pause image")
    work = images_cache() / "pause-build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run(["gcc", "-O2", "-static", "-o", str(work / "pause"), str(PAUSE_SOURCE)], check=True)
    ctr = subprocess.run(
        buildah("from", "scratch"), check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(buildah("copy", ctr, str(work / "pause"), "/pause"), check=True, capture_output=True)
    subprocess.run(buildah("config", "--entrypoint", '["/pause"]', "--user", "65535:65535", ctr), check=True)
    subprocess.run(buildah("commit", "--quiet", "--rm", ctr, PAUSE_IMAGE), check=True, capture_output=True)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    subprocess.run(buildah("push", PAUSE_IMAGE, f"oci-archive:{partial}:{PAUSE_IMAGE}"), check=True)
    partial.rename(archive)
    shutil.rmtree(work, ignore_errors=True)
    return archive


def _containerd_config(node: RealNode) -> str:
    return f"""version = 2
root = "{node.root / "containerd-root"}"
state = "{node.root / "containerd-state"}"
[grpc]
  address = "{node.socket}"
[ttrpc]
  address = "{node.socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "crun"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "{shutil.which("crun") or "/usr/bin/crun"}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{node.root / "cni"}"
"""


def _cni_config(node: RealNode) -> str:
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": f"portalis-{node.name}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": f"ptl{node.index}",
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": node.subnet}]],
                        "dataDir": str(node.root / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "loopback"},
            ],
        },
        indent=2,
    )


def _kubelet_config(node: RealNode) -> str:
    port = 10350 + 2 * node.index
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
address: 127.0.0.1
port: {port}
healthzBindAddress: 127.0.0.1
healthzPort: {port + 1}
readOnlyPort: 0
authentication: {{anonymous: {{enabled: false}}, webhook: {{enabled: false}}}}
authorization: {{mode: AlwaysAllow}}
containerRuntimeEndpoint: unix://{node.socket}
podLogsDir: {node.root / "pods"}
resolvConf: ""
evictionHard: {{}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
"""


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
    raise RealNodeError(f"{what} not ready within {timeout:g} s; log {log}:\n" + "\n".join(tail))


def _normalised(ref: str) -> str:
    """The name a node's runtime looks up for a pod's image (`portalis/worker:0.1.0` -> docker.io/...)."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref else f"docker.io/library/{ref}"


def start(
    node: RealNode,
    kubeconfig: Path,
    archives: Sequence[tuple[str, Path]],
    labels: dict[str, str] | None = None,
    progress: Progress = print,
) -> None:
    """Start the node's containerd and kubelet, with `archives` ((reference, OCI archive) pairs) loaded.

    Returns when containerd answers and the images are in; the Node turns Ready shortly after (the
    caller waits on it through the API server)."""
    prepare_host(progress)
    kubelet = build_tool(tool("kubelet"), progress) / "kubelet"
    pause = pause_archive(progress)
    for sub in ("cni", "containerd-root", "containerd-state", "kubelet", "pods", "ipam"):
        (node.root / sub).mkdir(parents=True, exist_ok=True)
    (node.root / "containerd.toml").write_text(_containerd_config(node))
    (node.root / "cni" / "10-portalis.conflist").write_text(_cni_config(node))
    (node.root / "kubelet.yaml").write_text(_kubelet_config(node))
    log = node.state_dir / "logs" / f"containerd-{node.name}.log"
    processes.start(
        f"containerd-{node.name}",
        ["containerd", "--config", str(node.root / "containerd.toml")],
        node.state_dir,
    )
    _wait(
        f"containerd of {node.name}",
        lambda: subprocess.run(node.ctr("version"), capture_output=True).returncode == 0,
        60,
        log,
    )
    for ref, archive in [(PAUSE_IMAGE, pause), *archives]:
        subprocess.run(node.ctr("images", "import", str(archive)), check=True, capture_output=True)
        if _normalised(ref) != ref:
            subprocess.run(
                node.ctr("images", "tag", "--force", ref, _normalised(ref)), check=True, capture_output=True
            )
    node_labels = {NODE_LABEL: node.name, **(labels or {})}
    processes.start(
        f"kubelet-{node.name}",
        [
            str(kubelet),
            "--config",
            str(node.root / "kubelet.yaml"),
            "--kubeconfig",
            str(kubeconfig),
            "--root-dir",
            str(node.root / "kubelet"),
            "--cert-dir",
            str(node.root / "kubelet-pki"),
            "--hostname-override",
            node.name,
            "--node-labels",
            ",".join(f"{k}={v}" for k, v in node_labels.items()),
        ],
        node.state_dir,
    )


def _kill_containers(node: RealNode) -> None:
    """Kill and delete every task of the node's containerd: their shims outlive containerd otherwise."""
    out = subprocess.run(node.ctr("tasks", "ls", "-q"), capture_output=True, text=True)
    for task in out.stdout.split():
        subprocess.run(node.ctr("tasks", "kill", "--signal", "SIGKILL", task), capture_output=True)
    deadline = time.monotonic() + 10
    for task in out.stdout.split():
        while time.monotonic() < deadline:
            if subprocess.run(node.ctr("tasks", "delete", task), capture_output=True).returncode == 0:
                break
            time.sleep(0.2)


def _unmount_under(path: Path) -> None:
    """Volumes the kubelet mounted (tmpfs tokens, binds) under the node's folder, deepest first."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    prefix = str(path) + "/"
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", target], capture_output=True)


def stop(node: RealNode) -> None:
    """Stop the kubelet, the node's containers and its containerd (a reclaimed node); the Node object
    stays for the caller to delete."""
    recs = {r.name: r for r in processes.recorded(node.state_dir)}
    if (rec := recs.get(f"kubelet-{node.name}")) is not None:
        processes.stop(rec, node.state_dir)
    if (rec := recs.get(f"containerd-{node.name}")) is not None:
        with contextlib.suppress(OSError):
            _kill_containers(node)
        processes.stop(rec, node.state_dir)
    _unmount_under(node.root)
    subprocess.run(["ip", "link", "delete", f"ptl{node.index}"], capture_output=True)


def pod_logs(node: RealNode, namespace: str, pod: str, container: str) -> str:
    """A container's log lines (CRI format: time, stream, tag, text) as plain text."""
    lines: list[str] = []
    for f in sorted((node.root / "pods").glob(f"{namespace}_{pod}_*/{container}/*.log")):
        for line in f.read_text(errors="replace").splitlines():
            parts = line.split(" ", 3)
            lines.append(parts[3] if len(parts) == 4 else line)
    return "\n".join(lines)


def nodes_of(state_dir: Path) -> list[RealNode]:
    """The real nodes whose folders a control plane's state directory holds (in index order)."""
    found = []
    for d in sorted((state_dir / "nodes").glob("*/kubelet.yaml")):
        index = int(d.read_text().split("port: ", 1)[1].split()[0]) - 10350
        found.append(RealNode(d.parent.name, index // 2, state_dir))
    return sorted(found, key=lambda n: n.index)


def node_ready(core: object, name: str) -> bool:
    """True when the Node exists and its Ready condition is True (`core` is a CoreV1Api)."""
    from kubernetes.client.exceptions import ApiException

    try:
        obj = core.read_node(name)  # type: ignore[attr-defined]
    except ApiException:
        return False
    conditions = obj.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def add_nodes(state_dir: Path, kubeconfig: Path, count: int, progress: Progress = print) -> list[RealNode]:
    """Start `count` more real nodes with the operator and worker images loaded; wait until Ready."""
    from kubernetes import client, config

    from portalis_dev import images

    records = images.build(images.DEFAULT_IMAGES, progress)
    archives = [(r.reference, Path(r.archive)) for r in records]
    existing = nodes_of(state_dir)
    first = max((n.index for n in existing), default=0) + 1
    new = [RealNode(f"real-{i}", i, state_dir) for i in range(first, first + count)]
    core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    for node in new:
        progress(f"portalis-dev: starting real node {node.name} (pod subnet {node.subnet})")
        start(node, kubeconfig, archives, progress=progress)
    for node in new:
        _wait(
            f"node {node.name}",
            lambda n=node: node_ready(core, n.name),  # type: ignore[misc]
            120,
            node.state_dir / "logs" / f"kubelet-{node.name}.log",
        )
    return new
