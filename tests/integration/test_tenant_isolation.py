"""Issue 13 on the real control plane: what one tenant writes cannot stop, forge or end another's work,
a stopped worker never finishes its job, and an API-server outage restarts nothing.

The operator runs in-process (KopfRunner) over two namespaces, tenants A and B. Worker pods run on
kwok-simulated nodes; the tests write pod status the way a kubelet would (test_operator.py does the
same), so the operator cannot tell the difference.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException
from test_operator import GROUP, VERSION, Jobs, job

from harness import operator_running, wait_for
from portalis_dev import nodes
from portalis_dev.cluster import LocalCluster

pytestmark = pytest.mark.integration

HOLD = "portalis.dev/test-hold"  # a finalizer that keeps a deleted pod around, as a slow kubelet would


@pytest.fixture
def tenants(
    namespace: str, core: Any, crds: list[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """Two tenant namespaces (A: the test's, B: a second one) watched by one operator and one pool."""
    other = f"{namespace[:50]}-b{uuid.uuid4().hex[:4]}"
    core.create_namespace({"metadata": {"name": other, "labels": {"portalis.dev/test": "true"}}})
    wait_for(lambda: core.read_namespaced_service_account("default", other), what=f"namespace {other}")
    monkeypatch.setenv("PORTALIS_OPERATOR_NAMESPACES", json.dumps([namespace, other]))
    monkeypatch.setenv("PORTALIS_OPERATOR_POOL", namespace)
    monkeypatch.setenv("PORTALIS_OPERATOR_METRICS_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_HEALTH_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_RESYNC_SECONDS", "0.5")
    try:
        yield namespace, other
    finally:
        for ns in (namespace, other):
            for p in core.list_namespaced_pod(ns).items:
                if HOLD in (p.metadata.finalizers or []):
                    release(core, p)
        for n in nodes.list_simulated(core, pool=namespace):
            core.delete_node(n.metadata.name)
        core.delete_namespace(other)


def release(core: Any, pod: Any) -> None:
    rest = [f for f in pod.metadata.finalizers or [] if f != HOLD]
    # A JSON patch: a strategic merge patch merges finalizer lists instead of replacing them.
    replace = [{"op": "replace", "path": "/metadata/finalizers", "value": rest}]
    core.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace, replace)


def report_exit(core: Any, pod: Any, phase: str, exit_code: int) -> None:
    """What a kubelet writes when the worker container exits."""
    started = pod.status.start_time.isoformat()
    core.patch_namespaced_pod_status(
        pod.metadata.name,
        pod.metadata.namespace,
        {
            "status": {
                "phase": phase,
                "containerStatuses": [
                    {
                        "name": "worker",
                        "image": pod.spec.containers[0].image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": exit_code,
                                "reason": "Completed" if exit_code == 0 else "Error",
                                "startedAt": started,
                                "finishedAt": started,
                            }
                        },
                    }
                ],
            }
        },
    )


def test_a_hostile_progress_annotation_stops_no_one(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    ja, jb = Jobs(api_client, a), Jobs(api_client, b)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    with operator_running(a):
        ja.create(job("noisy", gpus=4))
        (noisy,) = ja.running_pods("noisy", 1)
        # Anyone who may patch the pod can write this: the namespace's edit role, any worker token.
        # 2**64 froze the job's status (int64 fields), deep nesting broke the snapshot, 1e12 made
        # every cycle raise OverflowError; the last one stays.
        for report in (f'{{"unitsTotal": {2**64}, "unitsDone": 1}}', "[" * 5000 + "]" * 5000):
            core.patch_namespaced_pod(
                noisy.metadata.name, a, {"metadata": {"annotations": {"portalis.dev/progress": report}}}
            )
        core.patch_namespaced_pod(
            noisy.metadata.name,
            a,
            {"metadata": {"annotations": {"portalis.dev/progress": '{"unitsTotal": 1e12, "unitsDone": 1}'}}},
        )
        jb.create(job("quiet", gpus=4))
        jb.running_pods("quiet", 1)  # admitted in another namespace while the hostile report stands
        jb.complete("quiet")
        jb.wait_phase("quiet", "Succeeded")
        ja.complete("noisy")  # and the noisy job's own status is still written
        done = ja.wait_phase("noisy", "Succeeded")
    assert done["status"]["progress"]["unitsTotal"] == 10


def test_a_pod_forged_in_another_namespace_cannot_get_a_jobs_pod_deleted(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    with operator_running(a):
        ja.create(job("victim", gpus=4))
        (real,) = ja.running_pods("victim", 1)
        victim = ja.get("victim")
        # Tenant B copies the label and an ownerReference to A's job (its UID shows in Events and
        # status), on a node that does not exist: a lost node, so the planner would delete the
        # shard's pod at once, and it did so by name, in A. The finalizer keeps the forged pod
        # around after the garbage collector finds its owner missing.
        forged = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": real.metadata.name,
                "labels": {"portalis.dev/job": "victim", "portalis.dev/shard": "0"},
                "finalizers": [HOLD],
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "TranslationJob",
                        "name": "victim",
                        "uid": victim["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "nodeName": "no-such-node",
                "containers": [{"name": "worker", "image": "registry.invalid/forged:0"}],
            },
        }
        core.create_namespaced_pod(b, forged)
        # Another job in A admitted and running means the loop planned with the forged pod listed.
        ja.create(job("later", gpus=4))
        ja.running_pods("later", 1)
        wait_for(
            lambda: ja.get("later")["status"].get("workers", [{}])[0].get("phase") == "Running",
            what="a cycle after the forged pod",
        )
        (still,) = ja.pods("victim", live=False)
        assert still.metadata.uid == real.metadata.uid
        assert still.metadata.deletion_timestamp is None
        recoveries = ja.get("victim")["status"].get("recoveries") or {}
        assert recoveries.get("reclaims", 0) == 0


def test_a_drained_worker_that_exited_0_does_not_finish_its_job(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    with operator_running(a):
        ja.create(job("drained", gpus=4))
        (first,) = ja.running_pods("drained", 1)
        core.patch_namespaced_pod(first.metadata.name, a, {"metadata": {"finalizers": [HOLD]}})
        core.delete_namespaced_pod(first.metadata.name, a)  # a drain, or a spot notice
        # An older worker flushed and exited 0 on SIGTERM; Kubernetes calls the deleted pod Succeeded.
        report_exit(core, first, "Succeeded", 0)
        # Another job admitted and running after that means the loop planned with the Succeeded pod.
        ja.create(job("witness", gpus=4))
        ja.running_pods("witness", 1)
        recovering = ja.get("drained")
        assert recovering["status"]["phase"] == "Recovering"
        assert "waits for its old pod to stop" in next(
            c["message"] for c in recovering["status"]["conditions"] if c["type"] == "Recovering"
        )
        release(core, core.read_namespaced_pod(first.metadata.name, a))
        with contextlib.suppress(ApiException):  # the kubelet confirms, unless kwok already did
            core.delete_namespaced_pod(first.metadata.name, a, grace_period_seconds=0)
        (second,) = ja.running_pods("drained", 1)  # recreated: it resumes from its ledger
        assert second.metadata.uid != first.metadata.uid
        ja.complete("drained")
        ja.wait_phase("drained", "Succeeded")


def test_a_worker_stopped_without_a_deletion_is_resumed_not_retried(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    with operator_running(a):
        ja.create(job("stopped", gpus=4, recovery={"maxErrorRetries": 0}))
        (first,) = ja.running_pods("stopped", 1)
        report_exit(core, first, "Failed", 75)  # node shutdown or kubelet eviction: "resume me"
        second = wait_for(
            lambda: [p for p in ja.pods("stopped") if p.metadata.uid != first.metadata.uid],
            timeout=60,
            what="a replacement pod",
        )
        assert len(second) == 1
        status = ja.get("stopped")["status"]
        assert status["phase"] != "Failed"  # maxErrorRetries 0: a retry would have failed the job
        assert status["recoveries"] == {"reclaims": 1, "errorRetries": 0}


# ---- an API-server outage restarts nothing (item 11) ---------------------------------------------------


class Cuttable:
    """A TCP proxy in front of the API server that a test can cut (refuse and drop every connection)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            return


def probe(port: int, path: str) -> int:
    return answer(port, path)[0]


def answer(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_api_server_outage_fails_readiness_never_liveness(
    cluster: LocalCluster,
    api_client: Any,
    core: Any,
    tenants: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, _ = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    proxy = Cuttable((host.strip("[]"), int(port)))
    proxy.start()
    config["clusters"][0]["cluster"]["server"] = f"https://{host}:{proxy.port}"
    proxied = tmp_path / "kubeconfig"
    proxied.write_text(yaml.safe_dump(config))
    health = free_port()
    monkeypatch.setenv("KUBECONFIG", str(proxied))  # the operator's way to the API server
    monkeypatch.setenv("PORTALIS_OPERATOR_HEALTH_PORT", str(health))
    monkeypatch.setenv("PORTALIS_OPERATOR_STALE_AFTER_SECONDS", "3")
    try:
        with operator_running(a):
            ja.create(job("steady", gpus=4))
            ja.running_pods("steady", 1)
            wait_for(lambda: probe(health, "/readyz") == 200, what="ready")
            assert probe(health, "/livez") == 200
            proxy.cut()  # the API server is unreachable for the operator
            wait_for(lambda: probe(health, "/readyz") == 503, timeout=30, what="not ready during the outage")
            # Liveness holds throughout an outage well past the staleness limit (3 s here, 120 s by
            # default), which used to fail it.
            seen: list[int] = []

            def outage_lasted(seconds: float) -> bool:
                seen.append(probe(health, "/livez"))
                age = answer(health, "/readyz")[1]["roleConfirmedAgeSeconds"]
                return age is not None and age >= seconds

            wait_for(lambda: outage_lasted(12), timeout=60, what="a 12 s outage")
            assert seen
            assert set(seen) == {200}
            proxy.start()
            wait_for(lambda: probe(health, "/readyz") == 200, timeout=60, what="ready again")
            ja.complete("steady")
            ja.wait_phase("steady", "Succeeded", timeout=90)
    finally:
        proxy.cut()


def test_a_pod_with_gpus_in_another_quantity_form_stops_no_one(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    ja = Jobs(api_client, a)
    (node,) = nodes.add_nodes(core, "on-demand", 1, pool=a)
    odd = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "odd"},
        "spec": {
            "nodeName": node,  # anyone with pod create rights may bind a pod to a node by name
            "containers": [
                {
                    "name": "main",
                    "image": "registry.invalid/odd:0",
                    "resources": {"limits": {"nvidia.com/gpu": "1k"}, "requests": {"nvidia.com/gpu": "1k"}},
                }
            ],
        },
    }
    core.create_namespaced_pod(b, odd)
    assert core.read_namespaced_pod("odd", b).spec.containers[0].resources.limits["nvidia.com/gpu"] == "1k"
    with operator_running(a):
        ja.create(job("beside", gpus=1))
        # 1000 GPUs held on the only node: the job waits for capacity, with a reason, instead of every
        # cycle failing on int("1k").
        reason = wait_for(
            lambda: ja.get("beside").get("status", {}).get("queue", {}).get("reason"), what="a queue reason"
        )
        assert reason in ("InsufficientCapacity", "ExceedsPoolCapacity")
        core.delete_namespaced_pod("odd", b, grace_period_seconds=0)
        ja.running_pods("beside", 1)


def test_a_worker_drained_off_a_cordoned_node_resumes_on_another(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 2, pool=a)
    with operator_running(a):
        ja.create(job("movable", gpus=8))
        (first,) = ja.running_pods("movable", 1)
        # kubectl drain: cordon, then evict (the worker stops to be resumed)
        core.patch_node(first.spec.node_name, {"spec": {"unschedulable": True}})
        core.delete_namespaced_pod(first.metadata.name, a, grace_period_seconds=0)
        (second,) = ja.running_pods("movable", 1)
        assert second.metadata.uid != first.metadata.uid
        assert second.spec.node_name != first.spec.node_name
        ja.complete("movable")
        ja.wait_phase("movable", "Succeeded")


def test_gpus_held_by_a_pod_with_a_copied_job_label_are_counted(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    ja = Jobs(api_client, a)
    (node,) = nodes.add_nodes(core, "on-demand", 1, pool=a)
    squatter = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "squatter",
            "labels": {"portalis.dev/job": "anything", "portalis.dev/shard": "0"},
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.invalid/squatter:0",
                    "resources": {"limits": {"nvidia.com/gpu": "8"}},
                }
            ],
        },
    }
    core.create_namespaced_pod(b, squatter)
    with operator_running(a):
        ja.create(job("honest", gpus=8))
        # The node's 8 GPUs are taken: the job waits instead of getting a pod that cannot start.
        reason = wait_for(
            lambda: ja.get("honest").get("status", {}).get("queue", {}).get("reason"), what="a queue reason"
        )
        assert reason in ("InsufficientCapacity", "ExceedsPoolCapacity")
        assert ja.pods("honest", live=False) == []
        core.delete_namespaced_pod("squatter", b, grace_period_seconds=0)
        ja.running_pods("honest", 1)


def test_a_worker_that_refuses_its_assignment_fails_the_job_at_once(
    api_client: Any, core: Any, tenants: tuple[str, str]
) -> None:
    # Issue 13, item 9: exit 2 (invalid configuration) was retried like any error, with backoff, until
    # the error budget ran out.
    a, _ = tenants
    ja = Jobs(api_client, a)
    nodes.add_nodes(core, "on-demand", 1, pool=a)
    with operator_running(a):
        ja.create(job("misconfigured", gpus=4, recovery={"maxErrorRetries": 5, "backoffSeconds": 3600}))
        (first,) = ja.running_pods("misconfigured", 1)
        report_exit(core, first, "Failed", 2)
        failed = ja.wait_phase("misconfigured", "Failed")
    condition = next(c for c in failed["status"]["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "InvalidWorkerConfiguration"
    assert "shard 0 (exit code 2: invalid configuration" in condition["message"]
    assert (failed["status"].get("recoveries") or {}).get("errorRetries", 0) == 0
