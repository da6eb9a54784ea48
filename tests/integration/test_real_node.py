"""A real kubelet node (containerd + crun) that looks like a spot DGX node runs a pod from the worker image.

What a kubelet does and our node agent does not: the pod's files are the image's (the host's are not
visible), the restricted security context is enforced (uid 65532, read-only root), the pod gets an IP
from the node's CNI bridge, reaches the API server at the `kubernetes` Service as in-cluster clients do,
its logs come through `kubectl logs`, and a container that exits 0 makes the pod Succeeded. The node has
the pool's labels, the spot taint and 8 allocatable `nvidia.com/gpu`; a notice taints it and a reclaim
stops its kubelet and containerd and deletes it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from harness import wait_for
from portalis_dev import images, nodes, processes, realnode
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

POOL = "node-test"


@pytest.fixture(scope="module")
def real_node(cluster: LocalCluster, core: Any) -> Iterator[realnode.RealNode]:
    if os.geteuid() != 0:
        pytest.skip("a real node needs root (containerd, mounts, network namespaces)")
    specs = realnode.pool_specs(POOL, {"spot": 1})
    (node,) = realnode.add_nodes(cluster.state_dir, cluster.kubeconfig, specs, progress=print)
    try:
        yield node
    finally:
        realnode.reclaim(node, core)


def test_real_node_is_a_spot_dgx_node_of_its_pool(real_node: realnode.RealNode, core: Any) -> None:
    obj = core.read_node(real_node.name)
    labels = obj.metadata.labels
    assert labels[nodes.POOL_LABEL] == POOL
    assert labels[nodes.CAPACITY_TYPE_LABEL] == "spot"
    assert labels["type"] == realnode.NODE_TYPE
    assert labels[nodes.ZONE_LABEL] in nodes.ZONES
    assert [(t.key, t.effect) for t in obj.spec.taints or []] == [(nodes.SPOT_TAINT_KEY, "NoSchedule")]
    assert obj.status.capacity[nodes.GPU_RESOURCE] == "8"
    assert obj.status.allocatable[nodes.GPU_RESOURCE] == "8"
    addresses = {a.type: a.address for a in obj.status.addresses}
    assert addresses["InternalIP"] == real_node.ip
    assert obj.status.node_info.container_runtime_version.startswith("containerd://")


API_CHECK = """
import os, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
url = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}/version"
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + open(f"{sa}/token").read()})
print("api", urllib.request.urlopen(req, context=ctx, timeout=10).status)
"""


def test_worker_image_pod_runs_on_a_real_kubelet(
    real_node: realnode.RealNode, cluster: LocalCluster, core: Any, namespace: str
) -> None:
    marker = cluster.state_dir / f"host-only-{namespace}"  # not under /tmp, which the pod mounts over
    marker.write_text("the host's file")
    script = (
        f"id -u; rustc --version; test -e {marker} && echo HOST-VISIBLE; "
        "touch /rootfs-write 2>/dev/null && echo ROOT-WRITABLE; "
        'echo "$(cat /etc/portalis/greeting)"; python3 -c "$API_CHECK"; '
        "portalis-worker; echo worker-exit=$?"
    )
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "greeting"}, "data": {"greeting": "hi"}}
    )
    pod = {
        "metadata": {"name": "worker-image"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {realnode.NODE_LABEL: real_node.name},
            "tolerations": [{"key": nodes.SPOT_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "worker",
                    "image": images.reference("worker"),
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                    "env": [{"name": "API_CHECK", "value": API_CHECK}],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"},
                        {"name": "greeting", "mountPath": "/etc/portalis"},
                    ],
                }
            ],
            "volumes": [
                {"name": "tmp", "emptyDir": {}},
                {"name": "greeting", "configMap": {"name": "greeting"}},
            ],
        },
    }
    core.create_namespaced_pod(namespace, pod)
    done = wait_for(
        lambda: (
            (p := core.read_namespaced_pod("worker-image", namespace)).status.phase in ("Succeeded", "Failed")
            and p
        ),
        timeout=300,
        interval=1,
        what="the pod to finish on the real node",
        describe=lambda: core.read_namespaced_pod("worker-image", namespace).status,
    )
    log = realnode.pod_logs(real_node, namespace, "worker-image", "worker")
    assert done.status.phase == "Succeeded", log
    assert done.spec.node_name == real_node.name
    assert done.status.pod_ip.startswith(real_node.subnet.rsplit(".", 2)[0])
    lines = log.splitlines()
    assert lines[0] == "65532"
    assert lines[1].startswith("rustc 1.9")
    assert "HOST-VISIBLE" not in lines
    assert "ROOT-WRITABLE" not in lines
    assert "hi" in lines
    assert "api 200" in lines  # the API server through the `kubernetes` Service, TLS verified
    assert "worker-exit=2" in lines  # no assignment in the environment: invalid configuration
    # `kubectl logs` reaches the kubelet at the node's InternalIP through the API server
    kubectl = subprocess.run(
        [str(binary("kubectl")), "logs", "-n", namespace, "worker-image", "-c", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **cluster.env()},
    )
    assert kubectl.returncode == 0, kubectl.stderr
    assert kubectl.stdout.splitlines() == lines


def test_notice_taints_and_reclaim_stops_the_node(
    real_node: realnode.RealNode, cluster: LocalCluster, core: Any
) -> None:
    realnode.notice(core, real_node.name)
    taints = {t.key for t in core.read_node(real_node.name).spec.taints or []}
    assert taints == {nodes.SPOT_TAINT_KEY, realnode.NOTICE_TAINT}

    realnode.reclaim(real_node, core)
    left = {r.name for r in processes.recorded(cluster.state_dir) if processes.alive(r)}
    assert f"kubelet-{real_node.name}" not in left
    assert f"containerd-{real_node.name}" not in left
    assert real_node.name not in {n.metadata.name for n in core.list_node().items}
    assert real_node not in realnode.nodes_of(cluster.state_dir)
