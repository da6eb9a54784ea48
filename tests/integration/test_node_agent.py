"""The local node agent against the real control plane: nodes it keeps Ready, pods it runs as processes.

Each test starts its own agent (a managed background process of the session's cluster) on a private
pool and removes that pool's nodes afterwards. Pods are pinned to the pool's on-demand node and run
`sys.executable -c <script>`; scripts share files with the test through a hostPath volume, whose
mount path they only know from env (the agent rewrites it to the local directory).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from harness import wait_for
from portalis_dev import nodes
from portalis_dev.agent import start_agent, stop_agent
from portalis_dev.agent.config import parse_command_map, parse_nodes
from portalis_dev.agent.environment import Mount, expand, rewrite, rewrite_arg
from portalis_dev.cluster import LocalCluster

pytestmark = pytest.mark.integration

LEASE_SECONDS = 4
SHARED = "/shared"


# ---- builders and helpers ------------------------------------------------------------------------


def script_pod(
    name: str,
    pool: str,
    script: str,
    *,
    shared: Path | None = None,
    env: dict[str, str] | None = None,
    grace: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A pod on the pool's on-demand node running `python -c script`, with /shared -> `shared`."""
    container: dict[str, Any] = {
        "name": "main",
        "image": "registry.invalid/portalis/test:0",
        "command": [sys.executable, "-c", script],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "volumeMounts": [],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "nodeSelector": {nodes.POOL_LABEL: pool, nodes.CAPACITY_TYPE_LABEL: "on-demand"},
        "containers": [container],
        "volumes": [],
    }
    if shared is not None:
        pod_spec["volumes"].append({"name": "shared", "hostPath": {"path": str(shared), "type": "Directory"}})
        container["volumeMounts"].append({"name": "shared", "mountPath": SHARED})
        container["env"].append({"name": "SHARED", "value": SHARED})
    if grace is not None:
        pod_spec["terminationGracePeriodSeconds"] = grace
    pod_spec.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod_spec}


def phase_is(core: Any, ns: str, name: str, *phases: str) -> Any:
    p = core.read_namespaced_pod(name, ns)
    return p if p.status.phase in phases else None


def gone(core: Any, ns: str, name: str) -> bool:
    try:
        core.read_namespaced_pod(name, ns)
    except ApiException as exc:
        return exc.status == 404
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def read_pid(path: Path) -> int:
    return int(wait_for(lambda: path.is_file() and path.read_text().strip(), what=f"pid in {path}"))


TRAP_TERM = """
import os, signal, sys, time
shared = os.environ["SHARED"]
def on_term(*_):
    open(os.path.join(shared, "terminated"), "w").write("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
open(os.path.join(shared, "pid"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def pool(cluster: LocalCluster, core: Any) -> Iterator[str]:
    """An agent with one spot and one on-demand node on a private pool; stopped and its nodes removed."""
    name = f"na-{uuid.uuid4().hex[:6]}"
    start_agent(
        cluster,
        nodes={"spot": 1, "on-demand": 1},
        pool=name,
        lease_duration_seconds=LEASE_SECONDS,
        status_interval_seconds=2,
        delete_nodes_on_exit=True,
    )
    try:
        yield name
    finally:
        stop_agent(cluster, name)
        for n in nodes.list_simulated(core, pool=name):
            core.delete_node(n.metadata.name)


def agent_node(core: Any, pool: str, capacity_type: str = "on-demand") -> Any:
    [node] = [
        n
        for n in nodes.list_simulated(core, pool=pool)
        if n.metadata.labels[nodes.CAPACITY_TYPE_LABEL] == capacity_type
    ]
    return node


def pod_dir(cluster: LocalCluster, ns: str, name: str) -> Path:
    return cluster.state_dir / "agent" / "pods" / ns / name


# ---- pure parts (no cluster needed) --------------------------------------------------------------


def test_mount_path_rewriting_and_expansion_rules() -> None:
    mounts = [Mount("/var/lib/portalis/output", Path("/w/out")), Mount("/var/lib/portalis", Path("/w/all"))]
    assert rewrite("/var/lib/portalis/output", mounts) == "/w/out"
    assert rewrite("/var/lib/portalis/output/a/b", mounts) == "/w/out/a/b"
    assert rewrite("/var/lib/portalis/source", mounts) == "/w/all/source"
    assert rewrite("/var/lib/portalisX", mounts) == "/var/lib/portalisX"
    assert rewrite("relative/var/lib/portalis", mounts) == "relative/var/lib/portalis"
    assert rewrite_arg("--out=/var/lib/portalis/output/x", mounts) == "--out=/w/out/x"
    assert expand("$(A)/b $$(A) $(MISSING)", {"A": "a"}) == "a/b $(A) $(MISSING)"
    assert parse_nodes("spot=2, on-demand=1") == {"spot": 2, "on-demand": 1}
    assert parse_command_map(["tritonserver=/opt/fake --quiet"]) == {"tritonserver": ("/opt/fake", "--quiet")}
    with pytest.raises(ValueError, match="bad node spec"):
        parse_nodes("gpu=1")


# ---- against the control plane -------------------------------------------------------------------


def test_nodes_are_registered_like_dgx_nodes_and_stay_ready_across_lease_periods(
    api_client: Any, core: Any, pool: str
) -> None:
    spot, od = agent_node(core, pool, "spot"), agent_node(core, pool, "on-demand")
    for n in (spot, od):
        assert n.metadata.annotations.get("portalis.dev/agent") == f"agent-{pool}"
        assert nodes.KWOK_ANNOTATION not in n.metadata.annotations
        assert n.status.allocatable[nodes.GPU_RESOURCE] == "8"
        assert n.metadata.labels[nodes.ZONE_LABEL] in nodes.ZONES
    assert [t.key for t in spot.spec.taints or []] == [nodes.SPOT_TAINT_KEY]
    assert not od.spec.taints

    leases = client.CoordinationV1Api(api_client)

    def renew_time() -> Any:
        return leases.read_namespaced_lease(od.metadata.name, "kube-node-lease").spec.renew_time

    def ready_heartbeat() -> Any:
        conds = core.read_node(od.metadata.name).status.conditions
        [ready] = [c for c in conds if c.type == "Ready"]
        assert ready.status == "True", ready
        return ready.last_heartbeat_time

    first_renew, first_beat = renew_time(), ready_heartbeat()
    started = time.monotonic()
    seen = {first_renew}
    # Across more than two lease periods, the lease keeps being renewed and the node stays Ready.
    while time.monotonic() - started < 2.5 * LEASE_SECONDS:
        seen.add(renew_time())
        ready_heartbeat()
        time.sleep(0.5)
    assert len(seen) >= 4, seen
    assert ready_heartbeat() > first_beat
    lease = leases.read_namespaced_lease(od.metadata.name, "kube-node-lease")
    assert lease.spec.lease_duration_seconds == LEASE_SECONDS
    assert lease.metadata.owner_references[0].uid == od.metadata.uid


def test_pod_writes_into_empty_dir_and_pvc_sees_its_fields_and_succeeds(
    cluster: LocalCluster, core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    pv_dir = tmp_path / "pv"
    pv_dir.mkdir()
    pv_name = f"{namespace}-pv"
    core.create_persistent_volume(
        {
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "hostPath": {"path": str(pv_dir)},
            },
        }
    )
    try:
        core.create_namespaced_persistent_volume_claim(
            namespace,
            {
                "metadata": {"name": "output"},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "volumeName": pv_name,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        script = """
import json, os
out, scratch = os.environ["OUT_DIR"], os.environ["SCRATCH_FILE"]
open(scratch, "w").write("scratch")
keys = ["POD_NAME", "POD_NAMESPACE", "POD_UID", "NODE_NAME", "POD_IP", "OUT_DIR", "EXPANDED"]
fields = {k: os.environ[k] for k in keys}
fields["cwd"] = os.getcwd()
json.dump(fields, open(os.path.join(out, "result.json"), "w"))
print("done")
"""
        body = script_pod("writer", pool, script, env={"OUT_DIR": "/var/lib/portalis/output"})
        c = body["spec"]["containers"][0]
        c["env"] += [
            {"name": "SCRATCH_FILE", "value": "/tmp/scratch.txt"},
            {"name": "EXPANDED", "value": "$(OUT_DIR)/x"},
            *(
                {"name": k, "valueFrom": {"fieldRef": {"fieldPath": f}}}
                for k, f in [
                    ("POD_NAME", "metadata.name"),
                    ("POD_NAMESPACE", "metadata.namespace"),
                    ("POD_UID", "metadata.uid"),
                    ("NODE_NAME", "spec.nodeName"),
                    ("POD_IP", "status.podIP"),
                ]
            ),
        ]
        c["volumeMounts"] = [
            {"name": "scratch", "mountPath": "/tmp"},
            {"name": "output", "mountPath": "/var/lib/portalis/output", "subPath": "jobs/a"},
        ]
        body["spec"]["volumes"] = [
            {"name": "scratch", "emptyDir": {}},
            {"name": "output", "persistentVolumeClaim": {"claimName": "output"}},
        ]
        created = core.create_namespaced_pod(namespace, body)

        p = wait_for(
            lambda: phase_is(core, namespace, "writer", "Succeeded", "Failed"), timeout=60, what="done"
        )
        assert p.status.phase == "Succeeded"
        [cs] = p.status.container_statuses
        assert cs.state.terminated.exit_code == 0
        assert cs.state.terminated.reason == "Completed"
        assert p.status.pod_ip == p.status.host_ip == "127.0.0.1"
        assert p.status.start_time is not None
        conds = {c.type: c.status for c in p.status.conditions}
        assert conds["PodScheduled"] == "True"
        assert conds["Initialized"] == "True"
        assert conds["Ready"] == "False"

        node = agent_node(core, pool)
        local = pod_dir(cluster, namespace, "writer")
        result = json.loads((pv_dir / "jobs" / "a" / "result.json").read_text())
        assert result == {
            "POD_NAME": "writer",
            "POD_NAMESPACE": namespace,
            "POD_UID": created.metadata.uid,
            "NODE_NAME": node.metadata.name,
            "POD_IP": "127.0.0.1",
            "OUT_DIR": str(pv_dir / "jobs" / "a"),
            "EXPANDED": str(pv_dir / "jobs" / "a" / "x"),
            "cwd": str(local / "containers" / "main"),
        }
        assert (local / "volumes" / "scratch" / "scratch.txt").read_text() == "scratch"
        assert "done" in (local / "logs" / "main.log").read_text()
    finally:
        core.delete_persistent_volume(pv_name)


def test_failing_and_missing_commands_fail_with_their_exit_codes(
    core: Any, namespace: str, pool: str
) -> None:
    core.create_namespaced_pod(namespace, script_pod("fails", pool, "import sys; sys.exit(3)"))
    missing = script_pod("missing", pool, "")
    missing["spec"]["containers"][0]["command"] = ["portalis-no-such-program"]
    core.create_namespaced_pod(namespace, missing)

    p = wait_for(lambda: phase_is(core, namespace, "fails", "Succeeded", "Failed"), timeout=60, what="fails")
    assert p.status.phase == "Failed"
    term = p.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (3, "Error")

    p = wait_for(lambda: phase_is(core, namespace, "missing", "Succeeded", "Failed"), timeout=60, what="miss")
    assert p.status.phase == "Failed"
    term = p.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (128, "StartError")
    assert "portalis-no-such-program" in term.message


def test_config_map_volume_is_materialised_read_only(
    cluster: LocalCluster, core: Any, namespace: str, pool: str
) -> None:
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "settings"}, "data": {"a.json": '{"x": 1}', "b.txt": "bee"}}
    )
    script = """
import os
d = os.environ["CFG"]
print(sorted(os.listdir(d)), open(os.path.join(d, "a.json")).read(), open(os.environ["B"]).read())
"""
    body = script_pod("reader", pool, script, env={"CFG": "/etc/portalis", "B": "/etc/portalis/b.txt"})
    body["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "settings"}}]
    body["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "cfg", "mountPath": "/etc/portalis", "readOnly": True}
    ]
    core.create_namespaced_pod(namespace, body)
    p = wait_for(lambda: phase_is(core, namespace, "reader", "Succeeded", "Failed"), timeout=60, what="done")
    local = pod_dir(cluster, namespace, "reader")
    log = (local / "logs" / "main.log").read_text()
    assert p.status.phase == "Succeeded", log
    assert "['a.json', 'b.txt'] {\"x\": 1} bee" in log
    assert (local / "volumes" / "cfg" / "a.json").stat().st_mode & 0o777 == 0o444


def test_deletion_sends_sigterm_and_the_process_flushes_within_its_grace_period(
    core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    core.create_namespaced_pod(namespace, script_pod("graceful", pool, TRAP_TERM, shared=tmp_path, grace=20))
    pid = read_pid(tmp_path / "pid")
    wait_for(lambda: phase_is(core, namespace, "graceful", "Running"), timeout=30, what="Running")

    started = time.monotonic()
    core.delete_namespaced_pod("graceful", namespace)
    wait_for(lambda: gone(core, namespace, "graceful"), timeout=30, what="pod gone")
    assert time.monotonic() - started < 10  # it exited on SIGTERM, long before its 20 s grace
    assert (tmp_path / "terminated").read_text() == "SIGTERM"
    assert not pid_alive(pid)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    script = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(os.environ["SHARED"], "pid"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.1)
"""
    core.create_namespaced_pod(namespace, script_pod("stubborn", pool, script, shared=tmp_path, grace=3))
    pid = read_pid(tmp_path / "pid")
    wait_for(lambda: phase_is(core, namespace, "stubborn", "Running"), timeout=30, what="Running")

    started = time.monotonic()
    core.delete_namespaced_pod("stubborn", namespace)
    wait_for(lambda: not pid_alive(pid), timeout=20, what="stubborn process killed")
    took = time.monotonic() - started
    assert 2.5 <= took < 10, took
    wait_for(lambda: gone(core, namespace, "stubborn"), timeout=20, what="pod gone")


def test_deleting_the_node_kills_its_processes_at_once(
    core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    core.create_namespaced_pod(namespace, script_pod("reclaimed", pool, TRAP_TERM, shared=tmp_path, grace=60))
    pid = read_pid(tmp_path / "pid")
    node = agent_node(core, pool)

    started = time.monotonic()
    core.delete_node(node.metadata.name)
    wait_for(lambda: not pid_alive(pid), timeout=10, what="process killed with its node")
    assert time.monotonic() - started < 5
    assert not (tmp_path / "terminated").exists()  # SIGKILL, no termination notice


def test_interruption_taint_is_a_termination_notice(
    core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    core.create_namespaced_pod(namespace, script_pod("noticed", pool, TRAP_TERM, shared=tmp_path, grace=60))
    read_pid(tmp_path / "pid")
    node = agent_node(core, pool)
    taints = [{"key": "portalis.dev/interruption", "value": "reclaim", "effect": "NoSchedule"}]
    core.patch_node(node.metadata.name, {"spec": {"taints": taints}})

    wait_for(lambda: (tmp_path / "terminated").is_file(), timeout=15, what="SIGTERM marker")
    p = wait_for(lambda: phase_is(core, namespace, "noticed", "Succeeded", "Failed"), timeout=30, what="end")
    assert p.status.phase == "Succeeded"  # it handled SIGTERM and exited 0


def test_native_sidecar_starts_before_the_main_container_and_stops_after_it(
    core: Any, namespace: str, pool: str, tmp_path: Path
) -> None:
    sidecar_script = """
import os, signal, sys, time
log = os.path.join(os.environ["SHARED"], "events")
def note(what):
    with open(log, "a") as f:
        f.write(f"{time.monotonic_ns()} {what}\\n")
def on_term(*_):
    note("sidecar-stop")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
note("sidecar-start")
while True:
    time.sleep(0.1)
"""
    main_script = """
import os, time
log = os.path.join(os.environ["SHARED"], "events")
with open(log, "a") as f:
    f.write(f"{time.monotonic_ns()} main-start\\n")
time.sleep(1)
with open(log, "a") as f:
    f.write(f"{time.monotonic_ns()} main-end\\n")
"""
    body = script_pod("with-sidecar", pool, main_script, shared=tmp_path)
    main = body["spec"]["containers"][0]
    sidecar = {**main, "name": "triton", "command": [sys.executable, "-c", sidecar_script]}
    sidecar["restartPolicy"] = "Always"
    body["spec"]["initContainers"] = [sidecar]
    core.create_namespaced_pod(namespace, body)

    p = wait_for(
        lambda: phase_is(core, namespace, "with-sidecar", "Succeeded", "Failed"), timeout=60, what="done"
    )
    assert p.status.phase == "Succeeded"
    events = [
        line.split()[1]
        for line in sorted((tmp_path / "events").read_text().splitlines(), key=lambda s: int(s.split()[0]))
    ]
    assert events[0] == "sidecar-start"
    assert events[-1] == "sidecar-stop"
    assert events.index("main-start") < events.index("main-end") < events.index("sidecar-stop")
    [init] = p.status.init_container_statuses
    assert init.name == "triton"
    assert init.state.terminated is not None


def test_service_account_token_works_against_the_api(
    cluster: LocalCluster, api_client: Any, core: Any, namespace: str, pool: str
) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "worker"}})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "worker-reads-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "worker", "namespace": namespace}],
        },
    )
    script = """
import json, os, ssl, urllib.request
d = os.environ["PORTALIS_SERVICE_ACCOUNT_DIR"]
token = open(os.path.join(d, "token")).read()
ns = open(os.path.join(d, "namespace")).read()
ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
req = urllib.request.Request(
    f"https://{host}:{port}/api/v1/namespaces/{ns}/pods/{os.environ['HOSTNAME']}",
    headers={"Authorization": "Bearer " + token},
)
with urllib.request.urlopen(req, context=ctx) as resp:
    print("uid", json.load(resp)["metadata"]["uid"])
"""
    body = script_pod("caller", pool, script, serviceAccountName="worker")
    created = core.create_namespaced_pod(namespace, body)
    p = wait_for(lambda: phase_is(core, namespace, "caller", "Succeeded", "Failed"), timeout=60, what="done")
    log = (pod_dir(cluster, namespace, "caller") / "logs" / "main.log").read_text()
    assert p.status.phase == "Succeeded", log
    assert f"uid {created.metadata.uid}" in log
