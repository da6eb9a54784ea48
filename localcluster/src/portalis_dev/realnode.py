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
  `restrict_oom_score_adj` (the sandbox may not lower its score); the overlayfs snapshotter;
- crun refuses hybrid cgroups while the cgroup2 hierarchy still holds a controller: `prepare_host`
  mounts the leftover ones (hugetlb here) on v1 hierarchies, which moves them off cgroup2.

A real node is a DGX node of a pool (`nodes.DGXNode`): the pool, capacity-type, zone and GPU labels of
kwok's and the node agent's nodes (`--node-labels`), the spot taint (`registerWithTaints`), and
`nvidia.com/gpu` capacity advertised by patching the Node's status (`advertise_gpus`). Its node IP,
bridge and route to the API server are `nodenet.py`'s. `reclaim` is a spot reclaim (the machine goes:
kubelet, containers and containerd stop, then the Node is deleted); `notice` taints it first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalis_dev import nodenet, processes
from portalis_dev import nodes as dgx
from portalis_dev.cluster import LocalCluster
from portalis_dev.images import buildah, images_cache
from portalis_dev.layout import REPO_ROOT
from portalis_dev.toolchain import build_tool
from portalis_dev.versions import tool

Progress = Callable[[str], None]

PAUSE_SOURCE = REPO_ROOT / "localcluster" / "pause" / "pause.c"
PAUSE_IMAGE = "localhost/portalis/pause:3.10"
NODE_LABEL = "portalis.dev/real-node"
NODE_TYPE = "portalis-real"  # the `type` label (kwok's nodes say kwok, the node agent's portalis-agent)
NOTICE_TAINT = "portalis.dev/reclaim"  # in the GPUPool's default interruption taints
NODE_FILE = "node.json"
HOST_PACKAGES = {"containerd": "containerd", "crun": "crun", "gcc": "gcc"}
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PACKAGE = "containernetworking-plugins"
CGROUP_ROOT = Path("/sys/fs/cgroup")


class RealNodeError(RuntimeError):
    """A real node could not be prepared or did not become Ready."""


@dataclass(frozen=True)
class RealNode:
    """One kubelet + containerd pair; its host-wide `slot` picks ports, node IP, pod subnet and bridge."""

    name: str
    slot: nodenet.Slot
    state_dir: Path
    """The control plane's state directory: processes are recorded there, so `down` stops them."""

    @property
    def root(self) -> Path:
        """Named after the slot, not the node: the kubelet makes unix sockets a few levels below, and
        a long node name (a pool named after a test) made their paths too long to bind."""
        return self.state_dir / "nodes" / f"slot-{self.slot.index}"

    @property
    def socket(self) -> Path:
        return self.slot.run_dir / "containerd.sock"

    @property
    def subnet(self) -> str:
        return self.slot.subnet

    @property
    def ip(self) -> str:
        return self.slot.node_ip

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
    snapshotter = "overlayfs"
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
                    "bridge": node.slot.bridge,
                    "isGateway": True,
                    "isDefaultGateway": True,
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


def _kubelet_config(node: RealNode, client_ca: Path, taints: Sequence[dict[str, str]]) -> str:
    """The kubelet's configuration. The API server authenticates to it with a client certificate of the
    cluster CA (logs, exec); `registerWithTaints` gives a spot node its taint from the start."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "address": node.ip,
        "port": node.slot.kubelet_port,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": node.slot.healthz_port,
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "podLogsDir": str(node.root / "pods"),
        "resolvConf": "",
        "evictionHard": {},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "registerWithTaints": list(taints),
    }
    return json.dumps(config, indent=2)


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
    raise RealNodeError(f"{what} not ready within {timeout:g} s; log {log}:\n" + "\n".join(tail))


def normalised(ref: str) -> str:
    """The name a node's runtime looks up for a pod's image (`portalis/worker:0.1.0` -> docker.io/...)."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref else f"docker.io/library/{ref}"


def start(
    node: RealNode,
    kubeconfig: Path,
    archives: Sequence[tuple[str, Path]],
    spec: dgx.DGXNode,
    apiserver_port: int,
    progress: Progress = print,
) -> None:
    """Start the node's containerd and kubelet, with `archives` ((reference, OCI archive) pairs) loaded,
    labelled and tainted as the DGX node `spec` (its GPUs are advertised once it registers:
    `advertise_gpus`).

    Returns when containerd answers and the images are in; the Node registers shortly after (the
    caller waits on it through the API server)."""
    prepare_host(progress)
    kubelet = build_tool(tool("kubelet"), progress) / "kubelet"
    pause = pause_archive(progress)
    shutil.rmtree(node.root, ignore_errors=True)  # a node that had this slot before (stopped: unmounted)
    for sub in ("cni", "containerd-root", "containerd-state", "kubelet", "pods", "ipam"):
        (node.root / sub).mkdir(parents=True, exist_ok=True)
    loaded = {normalised(ref): sorted(archive_digests(archive)) for ref, archive in archives}
    meta = {"name": node.name, "slot": node.slot.index, "spec": dataclasses.asdict(spec), "images": loaded}
    (node.root / NODE_FILE).write_text(json.dumps(meta, indent=2))
    nodenet.setup(node.slot, apiserver_port)
    (node.root / "containerd.toml").write_text(_containerd_config(node))
    (node.root / "cni" / "10-portalis.conflist").write_text(_cni_config(node))
    client_ca = LocalCluster(node.state_dir).pki_dir / "ca.crt"
    (node.root / "kubelet.yaml").write_text(_kubelet_config(node, client_ca, dgx.taints(spec)))
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
        if normalised(ref) != ref:
            subprocess.run(
                node.ctr("images", "tag", "--force", ref, normalised(ref)), check=True, capture_output=True
            )
    labels = {NODE_LABEL: node.name, "type": NODE_TYPE, **dgx.pool_labels(spec)}
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
            "--node-ip",
            node.ip,
            "--node-labels",
            ",".join(f"{k}={v}" for k, v in labels.items()),
        ],
        node.state_dir,
    )


def advertise_gpus(core: Any, name: str, gpus: int) -> None:
    """`nvidia.com/gpu` capacity in the Node's status, the documented way to advertise an extended
    resource without a device plugin; the kubelet copies it into allocatable at its next status update."""
    core.patch_node_status(name, {"status": {"capacity": {dgx.GPU_RESOURCE: str(gpus)}}})


def gpus_allocatable(core: Any, name: str) -> int:
    """The Node's allocatable GPUs (0 when the Node is missing or has none)."""
    from kubernetes.client.exceptions import ApiException

    try:
        obj = core.read_node(name)
    except ApiException:
        return 0
    return int((obj.status.allocatable or {}).get(dgx.GPU_RESOURCE, "0"))


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
    """Stop the kubelet, the node's containers and its containerd (a reclaimed node) and undo its host
    networking; the Node object stays for the caller to delete (`reclaim` does both)."""
    recs = {r.name: r for r in processes.recorded(node.state_dir)}
    if (rec := recs.get(f"kubelet-{node.name}")) is not None:
        processes.stop(rec, node.state_dir)
    if (rec := recs.get(f"containerd-{node.name}")) is not None:
        with contextlib.suppress(OSError):
            _kill_containers(node)
        processes.stop(rec, node.state_dir)
    _unmount_under(node.root)
    nodenet.teardown(node.slot)
    nodenet.release(node.slot)
    (node.root / NODE_FILE).unlink(missing_ok=True)


def reclaim(node: RealNode, core: Any) -> None:
    """A spot reclaim as a cloud does it: the machine goes away (kubelet, containers and containerd
    stop at once), then its Node object is deleted."""
    from kubernetes.client.exceptions import ApiException

    stop(node)
    try:
        core.delete_node(node.name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def notice(core: Any, name: str, taint_key: str = NOTICE_TAINT) -> None:
    """An interruption notice: the taint a termination handler puts on a node about to be reclaimed
    (one of the GPUPool's `interruption.taints`). The kubelet keeps taints it did not set."""
    current = [t.to_dict() for t in (core.read_node(name).spec.taints or [])]
    if any(t["key"] == taint_key for t in current):
        return
    taint = {"key": taint_key, "value": "true", "effect": "NoSchedule"}
    body = [{k: v for k, v in t.items() if v is not None} for t in current] + [taint]
    core.patch_node(name, {"spec": {"taints": body}})


def pod_logs(node: RealNode, namespace: str, pod: str, container: str) -> str:
    """A container's log lines (CRI format: time, stream, tag, text) as plain text, read from the node's
    files (what `kubectl logs` shows, without the API server)."""
    lines: list[str] = []
    for f in sorted((node.root / "pods").glob(f"{namespace}_{pod}_*/{container}/*.log")):
        for line in f.read_text(errors="replace").splitlines():
            parts = line.split(" ", 3)
            lines.append(parts[3] if len(parts) == 4 else line)
    return "\n".join(lines)


def nodes_of(state_dir: Path) -> list[RealNode]:
    """The real nodes a control plane's state directory holds (started and not stopped), by name."""
    found = []
    for f in sorted((state_dir / "nodes").glob(f"*/{NODE_FILE}")):
        meta = json.loads(f.read_text())
        found.append(RealNode(str(meta["name"]), nodenet.Slot(int(meta["slot"])), state_dir))
    return found


def archive_digests(archive: Path) -> set[str]:
    """The manifest and config digests of an OCI archive's images (either may be a container's
    imageID in pod status)."""
    with tarfile.open(archive) as tar:

        def read(name: str) -> Any:
            member = tar.extractfile(name)
            if member is None:
                raise RealNodeError(f"{archive}: no {name}")
            return json.loads(member.read())

        found: set[str] = set()
        for manifest in read("index.json")["manifests"]:
            found.add(manifest["digest"])
            found.add(read(f"blobs/{manifest['digest'].replace(':', '/')}")["config"]["digest"])
        return found


def loaded_images(node: RealNode) -> dict[str, list[str]]:
    """The images loaded into the node's containerd: normalised reference -> their digests."""
    return dict(json.loads((node.root / NODE_FILE).read_text()).get("images") or {})


def spec_of(node: RealNode) -> dgx.DGXNode:
    """The DGX node `node` was started as."""
    return dgx.DGXNode(**json.loads((node.root / NODE_FILE).read_text())["spec"])


def node_ready(core: object, name: str) -> bool:
    """True when the Node exists and its Ready condition is True (`core` is a CoreV1Api)."""
    from kubernetes.client.exceptions import ApiException

    try:
        obj = core.read_node(name)  # type: ignore[attr-defined]
    except ApiException:
        return False
    conditions = obj.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def pool_specs(pool: str, counts: Mapping[str, int], existing: Iterable[str] = ()) -> list[dgx.DGXNode]:
    """DGX node specs for `counts` ({"spot": n, "on-demand": m}) real nodes of `pool`, named
    `real-<pool>-spot-<i>` / `real-<pool>-od-<i>` (lowest free indexes) and spread over the zones."""
    taken = set(existing)
    specs: list[dgx.DGXNode] = []
    capacity_types: tuple[dgx.CapacityType, ...] = ("spot", "on-demand")
    for capacity_type in capacity_types:
        prefix = f"real-{pool}-{'spot' if capacity_type == 'spot' else 'od'}-"
        free = (f"{prefix}{i}" for i in itertools.count() if f"{prefix}{i}" not in taken)
        for name in itertools.islice(free, counts.get(capacity_type, 0)):
            zone = dgx.ZONES[len(specs) % len(dgx.ZONES)]
            specs.append(dgx.DGXNode(name=name, capacity_type=capacity_type, zone=zone, pool=pool))
    return specs


def add_nodes(
    state_dir: Path,
    kubeconfig: Path,
    specs: Sequence[dgx.DGXNode],
    progress: Progress = print,
    timeout: float = 180.0,
    image_names: Sequence[str] | None = None,
) -> list[RealNode]:
    """Start a real node per spec with our images loaded (`image_names`, default the operator and the
    worker; built when missing); wait until each is Ready with its GPUs allocatable. A node that fails
    to start is stopped again before the error is raised."""
    from kubernetes import client, config

    from portalis_dev import images

    records = images.build(image_names or images.DEFAULT_IMAGES, progress)
    archives = [(r.reference, Path(r.archive)) for r in records]
    ports = LocalCluster(state_dir).ports()
    if ports is None:
        raise RealNodeError(f"no control plane in {state_dir}")
    core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    started: list[tuple[RealNode, dgx.DGXNode]] = []
    try:
        for spec in specs:
            node = RealNode(spec.name, nodenet.claim(state_dir, spec.name), state_dir)
            started.append((node, spec))
            progress(f"portalis-dev: starting real node {node.name} ({node.ip}, pod subnet {node.subnet})")
            start(node, kubeconfig, archives, spec, ports.apiserver, progress=progress)
        for node, spec in started:
            kubelet_log = state_dir / "logs" / f"kubelet-{node.name}.log"
            _wait(f"node {node.name} to register", lambda n=node: _exists(core, n.name), timeout, kubelet_log)  # type: ignore[misc]
            advertise_gpus(core, node.name, spec.gpus)
            _wait(
                f"node {node.name} Ready with {spec.gpus} GPUs",
                lambda n=node, g=spec.gpus: node_ready(core, n.name) and gpus_allocatable(core, n.name) == g,  # type: ignore[misc]
                timeout,
                kubelet_log,
            )
    except BaseException:
        for node, _ in started:
            stop(node)
        raise
    return [node for node, _ in started]


def _exists(core: Any, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        core.read_node(name)
    except ApiException:
        return False
    return True
