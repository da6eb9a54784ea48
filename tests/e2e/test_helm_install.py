"""End to end: `helm install`, `helm upgrade` and `helm uninstall` of the chart on the local control plane.

The operator runs in-cluster: the chart's Deployment (2 replicas, one Lease) is pinned to the nodes of
this test's own pool (the chart creates its GPUPool, so the session's real pool is not shared here).
Values: tests/e2e/helm_values/ plus the per-run pool, node selectors and watched namespace.

- install: both operator pods become Ready, one of them holds the Lease and the other stands by; a
  sample TranslationJob (parallelism 2, rules backend) Succeeds through worker pods that the in-cluster
  operator created, one per shard;
- upgrade (a pod annotation, so the operator pods roll) while a second, bigger job runs: the job's
  worker pods are the same pods (UIDs) before, during and after, it Succeeds, and the operator pods are
  new;
- uninstall: the release's objects go, the CRDs stay.

Setup comes from portalis_dev.demo (agent, volumes, source, job manifest), as in test_translation_job.py.

The pool is real kubelet nodes (portalis_dev.realpool, 1 spot and 1 on-demand; PORTALIS_E2E_NODES,
e2e_nodes.py): the operator pods run the operator image under the chart's default image names (loaded
into the nodes' containerd, `image.pullPolicy: IfNotPresent`), the workers the worker image, and the
operator's log is read with `kubectl logs`. With PORTALIS_E2E_NODES=agent they are node-agent nodes
instead, where `portalis-operator` runs as a host process with the pod's service-account credentials
(PORTALIS_SERVICE_ACCOUNT_DIR).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_nodes import REAL, require_root

from harness import wait_for
from portalis_dev import demo, realnode, realpool
from portalis_dev.agent import stop_agent
from portalis_dev.agent.nodes import NODE_TYPE as AGENT_NODE_TYPE
from portalis_dev.cluster import LocalCluster
from portalis_dev.layout import REPO_ROOT
from portalis_dev.nodes import CAPACITY_TYPE_LABEL, POOL_LABEL
from portalis_dev.toolchain import binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]  # real nodes: images and nodes first
NODE_TYPE = realnode.NODE_TYPE if REAL else AGENT_NODE_TYPE

CHART = REPO_ROOT / "charts" / "portalis"
VALUES = Path(__file__).parent / "helm_values" / "local-control-plane.yaml"
NODES = {"spot": 1, "on-demand": 1}
OPERATOR_SELECTOR = "app.kubernetes.io/component=operator,app.kubernetes.io/instance={release}"
JOB_TIMEOUT = 600.0 if REAL else 240.0  # real: containers on 2 shared cores, crate built in the pod
# The second job must outlast the operator's rolling update: the sample project several times over.
SECOND_JOB_COPIES = 8


def helm(*args: str, timeout: float = 300) -> str:
    started = time.monotonic()
    proc = subprocess.run(
        [binary("helm"), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    print(f"helm {' '.join(args[:2])}: rc {proc.returncode} in {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def kubectl(*args: str) -> str:
    proc = subprocess.run(
        [binary("kubectl"), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def real_node_env() -> list[dict[str, str]]:
    """The values file's operator.extraEnv (a list: Helm replaces it, never merges) and the worker
    requests that fit the real nodes' 2 cores."""
    base = list(yaml.safe_load(VALUES.read_text())["operator"].get("extraEnv") or [])
    return base + [{"name": k, "value": v} for k, v in realpool.OPERATOR_ENV.items()]


def run_values(pool: str, namespace: str) -> dict[str, Any]:
    """The per-run values: this test's pool (GPUPool name and node selector) and namespace."""
    agent_nodes = {POOL_LABEL: pool, "type": NODE_TYPE}
    return {
        "gpuPool": {"name": pool, "spot": {"capacityTypeLabel": CAPACITY_TYPE_LABEL}},
        # null drops the chart's default selector key (nvidia.com/gpu.present), which agent nodes lack:
        # Helm merges maps from values files instead of replacing them.
        "provider": {"static": {"nodeSelector": {**agent_nodes, "nvidia.com/gpu.present": None}}},
        "operator": {
            "nodeSelector": agent_nodes,
            "watchNamespaces": [namespace],
            **({"extraEnv": real_node_env()} if REAL else {}),
        },
    }


def operator_pods(clients: demo.Clients, namespace: str, release: str) -> list[Any]:
    """The release's operator pods that are not being deleted."""
    pods = clients.core.list_namespaced_pod(
        namespace, label_selector=OPERATOR_SELECTOR.format(release=release)
    ).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def ready(pod: Any) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions or ()
    )


def wait_operator_ready(
    clients: demo.Clients,
    apps: Any,
    namespace: str,
    release: str,
    not_uids: frozenset[str] = frozenset(),
) -> list[Any]:
    """Both replicas Ready (the Deployment says so too), none of them one of `not_uids`."""
    name = f"{release}-portalis-operator"

    def check() -> list[Any] | None:
        deploy = apps.read_namespaced_deployment(name, namespace)
        pods = operator_pods(clients, namespace, release)
        if (
            deploy.status.observed_generation != deploy.metadata.generation
            or (deploy.status.ready_replicas or 0) != 2
            or (deploy.status.updated_replicas or 0) != 2
            or len(pods) != 2
            or not all(map(ready, pods))
            or {p.metadata.uid for p in pods} & not_uids
        ):
            return None
        return pods

    found: list[Any] = wait_for(
        check,
        timeout=120,
        interval=0.5,
        what=f"the 2 operator pods of {release} Ready",
        describe=lambda: [
            (p.metadata.name, p.status.phase, p.spec.node_name)
            for p in operator_pods(clients, namespace, release)
        ],
    )
    return found


def pod_log(cluster: LocalCluster, namespace: str, pod: str, container: str = "operator") -> str:
    if REAL:
        proc = subprocess.run(
            [binary("kubectl"), "logs", "-n", namespace, pod, "-c", container],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return proc.stdout if proc.returncode == 0 else ""
    path = cluster.state_dir / "agent" / "pods" / namespace / pod / "logs" / f"{container}.log"
    return path.read_text(errors="replace") if path.is_file() else ""


def lease_holder(clients: demo.Clients, namespace: str, pool: str) -> str | None:
    """The replica (pod name) that holds the scheduling Lease portalis-<pool> in the release namespace."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        lease = client.CoordinationV1Api(clients.api).read_namespaced_lease(f"portalis-{pool}", namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return str(lease.spec.holder_identity or "") or None


def worker_uids(clients: demo.Clients, namespace: str, job: str) -> dict[str, str]:
    return {p.metadata.name: p.metadata.uid for p in demo.worker_pods(clients, namespace, job)}


@contextlib.contextmanager
def helm_env(cluster: LocalCluster, namespace: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Agent nodes of a pool named after the namespace, volumes and sources for two jobs; the release
    name; everything (release included) removed afterwards."""
    clients = demo.Clients.of(cluster)
    pool = namespace
    release = f"pl-{namespace[-5:]}"
    work = cluster.state_dir / "e2e" / namespace
    first = demo.job_manifest(namespace, name="first", overrides={"parallelism": 2})
    volumes = demo.volume_manifests(namespace, work, first)
    second = demo.job_manifest(
        namespace,
        name="second",
        overrides={
            "parallelism": 2,
            "checkpoint": {"interval": "1s"},
            "source": {"persistentVolumeClaim": {"claimName": volumes.source_claim, "path": "/second"}},
            "output": {"persistentVolumeClaim": {"claimName": volumes.output_claim, "path": "/second-crate"}},
        },
    )
    overrides = tmp_path / "run-values.yaml"
    overrides.write_text(yaml.safe_dump(run_values(pool, namespace)))
    try:
        if REAL:
            require_root()
            realpool.start_pool(cluster, pool, NODES, progress=lambda m: print(f"[{pool}] {m}"))
        else:
            demo.ensure_agent(cluster, pool, NODES, delete_nodes_on_exit=True)
        demo.prepare_source(demo.source_root(volumes, first))
        demo.prepare_source(demo.source_root(volumes, second), copies=SECOND_JOB_COPIES)
        demo.wipe_directory(volumes.output_dir)
        for job in (first, second) if REAL else ():
            output_path = job["spec"]["output"]["persistentVolumeClaim"]["path"]
            realpool.writable_by_workers(volumes.output_dir, output_path)
        demo.apply_volumes(clients, volumes)
        yield {
            "clients": clients,
            "pool": pool,
            "release": release,
            "values": overrides,
            "jobs": (first, second),
            "volumes": volumes,
        }
    finally:
        subprocess.run(
            [binary("helm"), "uninstall", release, "-n", namespace, "--ignore-not-found", "--wait"],
            capture_output=True,
            timeout=180,
            check=False,
        )
        if REAL:
            realpool.stop_pool(cluster, pool, clients.core)
        else:
            stop_agent(cluster, pool=pool)
        with contextlib.suppress(Exception):
            clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, pool)
        demo.delete_volumes(clients, volumes)
        shutil.rmtree(work, ignore_errors=True)


def test_helm_install_upgrade_uninstall(
    cluster: LocalCluster, crds: list[str], namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client

    with helm_env(cluster, namespace, tmp_path) as env:
        clients: demo.Clients = env["clients"]
        apps = client.AppsV1Api(clients.api)
        release: str = env["release"]
        first, second = env["jobs"]
        selector = f"{POOL_LABEL}={env['pool']},type={NODE_TYPE}"
        agent_nodes = {n.metadata.name for n in clients.core.list_node(label_selector=selector).items}
        assert len(agent_nodes) == sum(NODES.values())

        # ---- install ------------------------------------------------------------------------------
        helm(
            "install", release, str(CHART), "-n", namespace,
            "-f", str(VALUES), "-f", str(env["values"]), "--wait", "--timeout", "3m",
        )  # fmt: skip
        pods = wait_operator_ready(clients, apps, namespace, release)
        assert {p.spec.node_name for p in pods} <= agent_nodes, "operator pods must run on agent nodes"
        # Both replicas log in with the pod's service account and start; kopf runs standalone in each.
        for p in pods:
            wait_for(
                lambda n=p.metadata.name: "portalis operator started" in pod_log(cluster, namespace, n),
                timeout=60,
                what=f"operator pod {p.metadata.name} to start",
                describe=lambda n=p.metadata.name: pod_log(cluster, namespace, n)[-2000:],
            )
        # One Lease elects the leader: one replica holds it, the other stands by (leadership.py).
        names = {p.metadata.name for p in pods}
        holder = wait_for(
            lambda: (lambda h: h if h in names else None)(lease_holder(clients, namespace, env["pool"])),
            timeout=60,
            what="one operator replica to hold the Lease",
            describe=lambda: lease_holder(clients, namespace, env["pool"]),
        )
        wait_for(
            lambda: "took leadership" in pod_log(cluster, namespace, holder),
            timeout=30,
            what="the holder to log that it leads",
        )
        (standby,) = names - {holder}
        assert "took leadership" not in pod_log(cluster, namespace, standby)

        # ---- first job ----------------------------------------------------------------------------
        demo.create_job(clients, first)
        final = demo.follow_job(
            clients, namespace, "first", timeout=JOB_TIMEOUT, say=lambda line: print(f"[first] {line}")
        )
        assert demo.Snapshot.of(final).phase == "Succeeded", demo.condition_message(final, "Failed")
        workers = demo.worker_pods(clients, namespace, "first")
        assert len(workers) == 2, [w.metadata.name for w in workers]  # one pod per shard, created once
        for w in workers:
            assert w.spec.node_name in agent_nodes
            assert [o.name for o in w.metadata.owner_references or ()] == ["first"]
            assert w.status.phase == "Succeeded"
        assert (demo.crate_dir(env["volumes"], first) / "translation_report.json").is_file()

        # ---- upgrade while the second job runs ----------------------------------------------------
        before = {p.metadata.uid for p in operator_pods(clients, namespace, release)}
        demo.create_job(clients, second)
        running = wait_for(
            lambda: (
                lambda pods: (
                    pods if len(pods) == 2 and all(p.status.phase == "Running" for p in pods) else None
                )
            )(demo.worker_pods(clients, namespace, "second")),
            timeout=90,
            what="both worker pods of the second job Running",
        )
        uids = {p.metadata.name: p.metadata.uid for p in running}
        started = time.monotonic()
        helm(
            # The same values files again, not --reuse-values: the stored values hold the null that
            # removed the default node selector key, and Helm re-validates stored values against the
            # schema (string map) without dropping nulls first.
            "upgrade", release, str(CHART), "-n", namespace, "-f", str(VALUES), "-f", str(env["values"]),
            "--set", f"operator.podAnnotations.portalis\\.dev/rollout={uuid.uuid4().hex[:8]}",
            "--wait", "--timeout", "3m",
        )  # fmt: skip
        after = wait_operator_ready(clients, apps, namespace, release, not_uids=frozenset(before))
        print(f"operator rolled in {time.monotonic() - started:.1f} s")
        assert not {p.metadata.uid for p in after} & before
        during = demo.read_job(clients, namespace, "second")
        assert during is not None
        phase_after_roll = demo.Snapshot.of(during).phase
        assert phase_after_roll in ("Running", "Succeeded"), phase_after_roll
        assert worker_uids(clients, namespace, "second") == uids, "worker pods were replaced by the upgrade"
        final = demo.follow_job(
            clients, namespace, "second", timeout=JOB_TIMEOUT, say=lambda line: print(f"[second] {line}")
        )
        assert demo.Snapshot.of(final).phase == "Succeeded", demo.condition_message(final, "Failed")
        assert worker_uids(clients, namespace, "second") == uids, "worker pods were replaced"
        for w in demo.worker_pods(clients, namespace, "second"):
            assert all(c.restart_count == 0 for c in w.status.container_statuses or ())
        recoveries = (final.get("status") or {}).get("recoveries") or {}
        assert not any(recoveries.values()), recoveries
        print(f"second job phase right after the roll: {phase_after_roll}")

        # ---- uninstall ----------------------------------------------------------------------------
        helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "2m")
        wait_for(
            lambda: (
                not operator_pods(clients, namespace, release)
                and not apps.list_namespaced_deployment(namespace).items
            ),
            timeout=60,
            what="the release's objects to go",
        )
        for name in crds:  # kept: crds.install=false, and the chart's CRDs carry resource-policy keep
            assert clients.ext.read_custom_resource_definition(name).metadata.deletion_timestamp is None
        with pytest.raises(client.ApiException) as gone:
            clients.custom.get_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, env["pool"])
        assert gone.value.status == 404
        print(json.dumps({"release": release, "namespace": namespace}))
