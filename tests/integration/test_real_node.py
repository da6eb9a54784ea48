"""A real kubelet node (containerd + crun) runs a pod from the worker image built by `make images`.

What a kubelet does and our node agent does not: the pod's files are the image's (the host's are not
visible), the restricted security context is enforced (uid 65532, read-only root), the pod gets an IP
from the node's CNI bridge, and a container that exits 0 makes the pod Succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import wait_for
from portalis_dev import images, realnode
from portalis_dev.cluster import LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def real_node(cluster: LocalCluster, core: Any) -> Iterator[realnode.RealNode]:
    if os.geteuid() != 0:
        pytest.skip("a real node needs root (containerd, mounts, network namespaces)")
    (node,) = realnode.add_nodes(cluster.state_dir, cluster.kubeconfig, 1, progress=print)
    try:
        yield node
    finally:
        realnode.stop(node)
        core.delete_node(node.name)


def test_worker_image_pod_runs_on_a_real_kubelet(
    real_node: realnode.RealNode, core: Any, namespace: str, tmp_path: Path
) -> None:
    marker = tmp_path / "host-only"
    marker.write_text("the host's file")
    script = (
        f"id -u; rustc --version; test -e {marker} && echo HOST-VISIBLE; "
        "touch /rootfs-write 2>/dev/null && echo ROOT-WRITABLE; "
        'echo "$(cat /etc/portalis/greeting)"; portalis-worker; echo worker-exit=$?'
    )
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "greeting"}, "data": {"greeting": "hi"}}
    )
    pod = {
        "metadata": {"name": "worker-image"},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "nodeSelector": {realnode.NODE_LABEL: real_node.name},
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "worker",
                    "image": images.reference("worker"),
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
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
    assert "worker-exit=2" in lines  # no assignment in the environment: invalid configuration
