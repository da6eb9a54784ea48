"""A real node's host networking: its slot on this machine, its node IP, its pod bridge, and the route
its pods take to the API server.

Slots are host-wide (several control planes may run real nodes on one machine at once): a slot is a
directory under SLOT_DIR created atomically, and picks the node's kubelet ports, node IP, pod subnet
and bridge name. A slot whose owner (a state directory and node name) no longer runs that node's
containerd is stale and is taken over.

- Node IP: `10.245.0.<slot>/32` on the loopback device. The kubelet refuses a loopback address (127/8)
  as node IP but accepts any other address of a local interface; the API server reaches the kubelet
  there (`--kubelet-preferred-address-types=InternalIP`), so `kubectl logs` and `exec` work.
- Pods reach the API server as in-cluster clients do, at the `kubernetes` Service (10.0.0.1:443). There
  is no kube-proxy: one DNAT rule per node, limited to that node's pod subnet, sends 10.0.0.1:443 to its
  own control plane's port on 127.0.0.1 (`route_localnet` on the node's bridge lets the kernel route to
  and from 127.0.0.1 there, as kube-proxy does for node ports). The serving certificate names 10.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from portalis_dev import processes

SLOT_DIR = Path("/run/portalis-real-nodes")
MAX_SLOT = 200
KUBELET_PORT_BASE = 10350
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service in cluster.SERVICE_CIDR
SERVICE_PORT = 443
STALE_AFTER_SECONDS = 300.0  # a claim younger than this may belong to a node still starting


class NodeNetError(RuntimeError):
    """No free slot, or a host networking command failed."""


@dataclass(frozen=True)
class Slot:
    """Everything host-wide that a node's slot number decides (pure)."""

    index: int

    @property
    def run_dir(self) -> Path:
        """The slot's claim directory; also home of the node's sockets, whose paths must stay short
        (a unix socket path has at most 104 bytes here, and a state directory may be deep)."""
        return SLOT_DIR / str(self.index)

    @property
    def node_ip(self) -> str:
        return f"10.245.0.{self.index}"

    @property
    def subnet(self) -> str:
        return f"10.244.{self.index}.0/24"

    @property
    def bridge(self) -> str:
        return f"ptl{self.index}"

    @property
    def kubelet_port(self) -> int:
        return KUBELET_PORT_BASE + 2 * self.index

    @property
    def healthz_port(self) -> int:
        return self.kubelet_port + 1

    def dnat_rule(self, apiserver_port: int) -> list[str]:
        """The PREROUTING rule (without -A/-D) that takes this node's pods to their API server."""
        return [
            "PREROUTING",
            "-s",
            self.subnet,
            "-d",
            f"{SERVICE_IP}/32",
            "-p",
            "tcp",
            "--dport",
            str(SERVICE_PORT),
            "-m",
            "comment",
            "--comment",
            f"portalis real node slot {self.index}",
            "-j",
            "DNAT",
            "--to-destination",
            f"127.0.0.1:{apiserver_port}",
        ]


def _owner_alive(claim: Path) -> bool:
    try:
        owner = json.loads((claim / "owner.json").read_text())
    except (OSError, ValueError):
        return time.time() - claim.stat().st_mtime < STALE_AFTER_SECONDS
    state_dir, name = Path(owner["state_dir"]), str(owner["name"])
    running = any(
        r.name == f"containerd-{name}" and processes.alive(r) for r in processes.recorded(state_dir)
    )
    return running or time.time() - claim.stat().st_mtime < STALE_AFTER_SECONDS


def _ports_free(slot: Slot) -> bool:
    from portalis_dev.cluster import port_free

    return port_free(slot.kubelet_port) and port_free(slot.healthz_port)


def claim(state_dir: Path, name: str) -> Slot:
    """A free slot for node `name` of the control plane in `state_dir` (stale ones are taken over)."""
    SLOT_DIR.mkdir(parents=True, exist_ok=True)
    for index in range(1, MAX_SLOT + 1):
        path = SLOT_DIR / str(index)
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir() and not _owner_alive(path):
                teardown(Slot(index))
                shutil.rmtree(path, ignore_errors=True)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        slot = Slot(index)
        if not _ports_free(slot):
            # Something else listens there: leave the claim in place (it goes stale), try the next.
            continue
        (path / "owner.json").write_text(json.dumps({"state_dir": str(state_dir), "name": name}))
        return slot
    raise NodeNetError(f"no free real-node slot among {MAX_SLOT} in {SLOT_DIR}")


def release(slot: Slot) -> None:
    shutil.rmtree(SLOT_DIR / str(slot.index), ignore_errors=True)


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NodeNetError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc


def setup(slot: Slot, apiserver_port: int) -> None:
    """Node IP on lo, the pod bridge (made here so route_localnet can be set before the first pod; the
    CNI bridge plugin adopts it) and the DNAT rule to the API server."""
    teardown(slot)  # leftovers of a crashed node in the same slot
    _run(["ip", "addr", "add", f"{slot.node_ip}/32", "dev", "lo"])
    _run(["ip", "link", "add", slot.bridge, "type", "bridge"])
    _run(["ip", "link", "set", slot.bridge, "up"])
    Path(f"/proc/sys/net/ipv4/conf/{slot.bridge}/route_localnet").write_text("1\n")
    _run(["iptables", "-t", "nat", "-A", *slot.dnat_rule(apiserver_port)])


def _dnat_rules(slot: Slot) -> list[list[str]]:
    """This slot's DNAT rules as `iptables -S` prints them (whatever API server port they name)."""
    out = _run(["iptables", "-t", "nat", "-S", "PREROUTING"], check=False).stdout
    marker = f"portalis real node slot {slot.index}"
    rules = [shlex.split(line) for line in out.splitlines()]
    return [r for r in rules if r[:1] == ["-A"] and marker in r]


def teardown(slot: Slot) -> None:
    """Undo `setup` (each step tolerates what is already gone)."""
    for rule in _dnat_rules(slot):
        _run(["iptables", "-t", "nat", "-D", *rule[1:]], check=False)
    _run(["ip", "link", "delete", slot.bridge], check=False)
    _run(["ip", "addr", "del", f"{slot.node_ip}/32", "dev", "lo"], check=False)
