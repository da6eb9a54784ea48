from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from builders import tj
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.manifests import (
    GPU_RESOURCE,
    JOB_LABEL,
    SHARD_LABEL,
    WorkerPodSettings,
    build_worker_pod,
    output_config_maps,
    safe_name,
    worker_pod_name,
)
from portalis_operator.workload import SpotMode
from portalis_worker.protocol import WRITERS_ANNOTATION

pytestmark = pytest.mark.unit

SETTINGS = WorkerPodSettings(
    image="registry.invalid/portalis/worker:test", capacity_type_label="example.com/capacity"
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def required_terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert len(terms["nodeSelectorTerms"]) == 1  # ORed terms would loosen the constraints
    result: list[dict[str, Any]] = terms["nodeSelectorTerms"][0]["matchExpressions"]
    return result


def spot_toleration(pod: dict[str, Any]) -> bool:
    return any(t.get("key") == "portalis.dev/spot" for t in pod["spec"]["tolerations"])


@pytest.mark.parametrize(
    ("mode", "values", "tolerates_spot", "prefers_spot"),
    [
        (SpotMode.NEVER, ["on-demand"], False, False),
        (SpotMode.REQUIRED, ["spot"], True, False),
        (SpotMode.PREFERRED, ["spot", "on-demand"], True, True),
    ],
)
def test_spot_mode_to_affinity_and_tolerations(
    mode: SpotMode, values: list[str], tolerates_spot: bool, prefers_spot: bool
) -> None:
    pod = build_worker_pod(tj("a").obj(), 0, spot_mode=mode, settings=SETTINGS)
    (expr,) = required_terms(pod)
    assert expr == {"key": "example.com/capacity", "operator": "In", "values": values}
    assert spot_toleration(pod) is tolerates_spot
    preferred = pod["spec"]["affinity"]["nodeAffinity"].get("preferredDuringSchedulingIgnoredDuringExecution")
    assert bool(preferred) is prefers_spot


def test_pinned_to_the_admitted_node() -> None:
    pod = build_worker_pod(tj("a").obj(), 0, spot_mode=SpotMode.NEVER, settings=SETTINGS, node="dgx-3")
    assert {"key": "kubernetes.io/hostname", "operator": "In", "values": ["dgx-3"]} in required_terms(pod)
    assert "nodeName" not in pod["spec"]


def test_env_carries_the_assignment() -> None:
    job = (
        tj("demo")
        .parallelism(4, gpus=2)
        .spec(translation={"backend": "rules"}, checkpoint={"interval": "5m"})
        .obj()
    )
    pod = build_worker_pod(job, 3, spot_mode=SpotMode.PREFERRED, settings=SETTINGS)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["PORTALIS_JOB_NAME"] == "demo"
    assert env["PORTALIS_JOB_NAMESPACE"] == "team-a"
    assert env["PORTALIS_SHARD_INDEX"] == "3"
    assert env["PORTALIS_SHARD_COUNT"] == "4"
    assert env["PORTALIS_BACKEND"] == "rules"
    assert env["PORTALIS_CHECKPOINT_INTERVAL_SECONDS"] == "300"
    assert env["PORTALIS_GIT_URL"] == "https://example.com/repo.git"


def test_output_pvc_holds_the_ledger() -> None:
    pod = build_worker_pod(tj("a").obj(), 0, spot_mode=SpotMode.NEVER, settings=SETTINGS)
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/var/lib/portalis/ledger"]["subPath"] == "crates/demo/.portalis/ledger"
    assert mounts["/var/lib/portalis/output"]["subPath"] == "crates/demo"


def test_the_translation_memory_lives_at_the_output_claims_root() -> None:
    def memory(job: Any) -> tuple[str | None, str | None]:
        container = build_worker_pod(job, 0, spot_mode=SpotMode.NEVER, settings=SETTINGS)["spec"][
            "containers"
        ][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        mount = mounts.get("/var/lib/portalis/memory")
        return env.get(
            "PORTALIS_MEMORY_DIR"
        ), None if mount is None else f"{mount['name']}:{mount['subPath']}"

    on = {"backend": "auto", "memory": True}
    # shared by every job writing to the claim, whatever its output path
    assert memory(tj("a").spec(translation=on).obj()) == (
        "/var/lib/portalis/memory",
        "output:.portalis/memory",
    )
    rules = {"backend": "rules", "memory": True}
    assert memory(tj("a").spec(translation=rules).obj())[0] == "/var/lib/portalis/memory"
    # off by default, with the model backend, and without a PVC output
    assert memory(tj("a").obj()) == (None, None)
    assert memory(tj("a").spec(translation={"backend": "model", "memory": True}).obj()) == (None, None)
    assert memory(tj("a").spec(translation=on, output={"configMap": {"name": "crate"}}).obj()) == (None, None)


def test_shard_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        build_worker_pod(tj("a").parallelism(2).obj(), 2, spot_mode=SpotMode.NEVER, settings=SETTINGS)


def test_safe_name() -> None:
    assert worker_pod_name("short", 1) == "short-w1"
    long = "a" * 63
    name = worker_pod_name(long, 12)
    assert len(name) == 63
    assert name.endswith("-w12")
    assert name != worker_pod_name("a" * 62 + "b", 12)  # the hash keeps them apart
    truncated = safe_name("x-" * 40)
    assert len(truncated) <= 63
    assert DNS_LABEL.match(truncated)


names = st.from_regex(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
sources = st.sampled_from(
    [
        {"git": {"url": "git@example.com:team/repo.git"}},
        {"configMap": {"name": "src"}},
        {"persistentVolumeClaim": {"claimName": "src", "path": "/py"}},
    ]
)
outputs = st.sampled_from([{"persistentVolumeClaim": {"claimName": "out"}}, {"configMap": {"name": "out"}}])


@given(
    name=names,
    parallelism=st.integers(1, 64),
    gpus=st.integers(1, 8),
    mode=st.sampled_from(list(SpotMode)),
    source=sources,
    output=outputs,
)
def test_every_pod_is_well_formed(
    name: str, parallelism: int, gpus: int, mode: SpotMode, source: dict[str, Any], output: dict[str, Any]
) -> None:
    job = tj(name).parallelism(parallelism, gpus).spec(source=source, output=output).obj()
    pods = [build_worker_pod(job, s, spot_mode=mode, settings=SETTINGS) for s in range(parallelism)]
    assert len({p["metadata"]["name"] for p in pods}) == parallelism
    for shard, pod in enumerate(pods):
        meta, spec = pod["metadata"], pod["spec"]
        assert len(meta["name"]) <= 63
        assert DNS_LABEL.match(meta["name"]), meta["name"]
        assert all(len(v) <= 63 for v in meta["labels"].values())
        assert meta["labels"][SHARD_LABEL] == str(shard)
        assert meta["labels"][JOB_LABEL]
        (owner,) = meta["ownerReferences"]
        assert owner["kind"] == "TranslationJob"
        assert owner["uid"] == job.metadata.uid
        assert owner["controller"] is True
        assert spec["terminationGracePeriodSeconds"] > 0
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        everything = spec["containers"] + spec.get("initContainers", [])
        # The pod holds exactly the job's GPUs per shard, requests equal to limits, in one container.
        held = [c["resources"]["limits"].get(GPU_RESOURCE) for c in everything]
        assert [g for g in held if g is not None] == [str(gpus)]
        for container in everything:
            res = container["resources"]
            assert res["requests"].get(GPU_RESOURCE) == res["limits"].get(GPU_RESOURCE)
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            mounted = {m["name"] for m in container["volumeMounts"]}
            assert mounted <= {v["name"] for v in spec["volumes"]}
            # Issue 13, item 10: node disk is shared with other tenants' pods; no unbounded writes.
            assert res["requests"]["ephemeral-storage"]
            assert res["limits"]["ephemeral-storage"]
        for volume in spec["volumes"]:
            if "emptyDir" in volume:
                assert volume["emptyDir"]["sizeLimit"], volume


def test_model_backends_get_a_triton_sidecar_holding_the_gpus() -> None:
    job = tj("m").parallelism(1, gpus=4).spec(translation={"backend": "auto"}).obj()
    pod = build_worker_pod(job, 0, spot_mode=SpotMode.NEVER, settings=SETTINGS)
    (sidecar,) = pod["spec"]["initContainers"]
    (worker,) = pod["spec"]["containers"]
    assert sidecar["name"] == "triton"
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["resources"]["limits"][GPU_RESOURCE] == "4"
    assert GPU_RESOURCE not in worker["resources"]["limits"]
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["PORTALIS_TRITON_URL"] == "localhost:8001"


def test_rules_backend_runs_no_triton_and_the_worker_holds_the_gpus() -> None:
    job = tj("r").parallelism(1, gpus=2).spec(translation={"backend": "rules"}).obj()
    pod = build_worker_pod(job, 0, spot_mode=SpotMode.NEVER, settings=SETTINGS)
    assert "initContainers" not in pod["spec"]
    (worker,) = pod["spec"]["containers"]
    assert worker["resources"]["limits"][GPU_RESOURCE] == "2"
    assert "PORTALIS_TRITON_URL" not in {e["name"] for e in worker["env"]}


def test_empty_dirs_and_ephemeral_storage_follow_the_settings() -> None:
    # Issue 13, item 10: a huge git repository filled the node's disk through unbounded emptyDirs, and
    # the kubelet evicted other tenants' pods to reclaim it.
    settings = dataclasses.replace(
        SETTINGS,
        scratch_size_limit="3Gi",
        source_size_limit="5Gi",
        output_size_limit="7Mi",
        ledger_size_limit="11Mi",
        ephemeral_storage_request="2Gi",
        ephemeral_storage_limit="30Gi",
    )
    git = {"git": {"url": "https://example.com/a.git"}}
    job = tj("s").spec(source=git, output={"configMap": {"name": "crate"}}).obj()
    pod = build_worker_pod(job, 0, spot_mode=SpotMode.NEVER, settings=settings)
    limits = {v["name"]: v["emptyDir"].get("sizeLimit") for v in pod["spec"]["volumes"] if "emptyDir" in v}
    assert limits == {"scratch": "3Gi", "source": "5Gi", "output": "7Mi", "ledger": "11Mi"}
    (worker,) = pod["spec"]["containers"]
    assert worker["resources"]["requests"]["ephemeral-storage"] == "2Gi"
    assert worker["resources"]["limits"]["ephemeral-storage"] == "30Gi"
    for sidecar in pod["spec"].get("initContainers", []):
        assert sidecar["resources"]["limits"]["ephemeral-storage"]


def test_the_operator_settings_carry_the_storage_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from portalis_operator.settings import Settings

    monkeypatch.setenv("PORTALIS_OPERATOR_WORKER_SOURCE_SIZE_LIMIT", "50Gi")
    monkeypatch.setenv("PORTALIS_OPERATOR_WORKER_EPHEMERAL_STORAGE_LIMIT", "80Gi")
    pod_settings = Settings().worker_pod_settings("example.com/capacity")
    assert pod_settings.source_size_limit == "50Gi"
    assert pod_settings.ephemeral_storage_limit == "80Gi"
    assert pod_settings.scratch_size_limit == WorkerPodSettings(image="x").scratch_size_limit


def test_the_operator_settings_carry_the_worker_cpu_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 14: the local real nodes have 2 cores; a worker asking for a DGX node's share never fits.
    from portalis_operator.settings import Settings

    monkeypatch.setenv("PORTALIS_OPERATOR_WORKER_CPU_REQUEST", "100m")
    monkeypatch.setenv("PORTALIS_OPERATOR_WORKER_MEMORY_REQUEST", "512Mi")
    monkeypatch.setenv("PORTALIS_OPERATOR_WORKER_MEMORY_LIMIT", "4Gi")
    pod = build_worker_pod(
        tj("s").obj(), 0, spot_mode=SpotMode.NEVER, settings=Settings().worker_pod_settings("c")
    )
    (worker,) = pod["spec"]["containers"]
    assert worker["resources"]["requests"]["cpu"] == "100m"
    assert worker["resources"]["requests"]["memory"] == "512Mi"
    assert worker["resources"]["limits"]["memory"] == "4Gi"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTALIS_OPERATOR_WORKER_CPU_REQUEST", "0.5"),
        ("PORTALIS_OPERATOR_WORKER_MEMORY_REQUEST", "64Gi"),  # above the limit
        ("PORTALIS_OPERATOR_WORKER_SCRATCH_SIZE_LIMIT", "lots"),
        ("PORTALIS_OPERATOR_WORKER_LEDGER_SIZE_LIMIT", "-1Gi"),
        ("PORTALIS_OPERATOR_WORKER_EPHEMERAL_STORAGE_REQUEST", "1GB"),
        ("PORTALIS_OPERATOR_WORKER_EPHEMERAL_STORAGE_REQUEST", "100Gi"),  # above the limit
    ],
)
def test_invalid_storage_settings_stop_the_operator_at_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    from pydantic import ValidationError

    from portalis_operator.settings import Settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_git_credentials_are_a_worker_only_secret_volume_never_env_or_status() -> None:
    # Issue 13, item 10: private repositories had no credentials reference, so tokens ended up in the
    # URL, and from there in every pod's environment (readable by any worker token) and in logs.
    import json

    from test_lifecycle import ctx, node

    from portalis_operator.jobs import plan_job
    from portalis_operator.manifests import GIT_CREDENTIALS_DIR
    from portalis_operator.snapshot import JobView

    git = {
        "url": "https://git.example.com/team/app.git",
        "credentialsSecretRef": {"name": "app-deploy-token"},
    }
    job = tj("private").spec(source={"git": git}, translation={"backend": "model"}).obj()
    pod = build_worker_pod(job, 0, spot_mode=SpotMode.PREFERRED, settings=SETTINGS)
    spec = pod["spec"]
    (volume,) = [v for v in spec["volumes"] if "secret" in v]
    assert volume["secret"] == {"secretName": "app-deploy-token", "defaultMode": 0o440}
    (worker,) = spec["containers"]
    mounts = {m["name"]: m for m in worker["volumeMounts"]}
    assert mounts[volume["name"]] == {
        "name": volume["name"],
        "mountPath": GIT_CREDENTIALS_DIR,
        "readOnly": True,
    }
    for sidecar in spec["initContainers"]:  # Triton never sees it
        assert volume["name"] not in {m["name"] for m in sidecar["volumeMounts"]}
    for container in spec["containers"] + spec["initContainers"]:
        for env in container.get("env", []):
            assert "secretKeyRef" not in env.get("valueFrom", {}), env
            assert "app-deploy-token" not in env.get("value", ""), env
        assert "envFrom" not in container
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["PORTALIS_GIT_CREDENTIALS_DIR"] == GIT_CREDENTIALS_DIR
    plan = plan_job(JobView(job), None, None, ctx(node("n1")))
    assert plan.status is not None
    assert "app-deploy-token" not in json.dumps(plan.status.to_wire())
    no_ref = tj("public").spec(source={"git": {"url": "https://git.example.com/a.git"}}).obj()
    public = build_worker_pod(no_ref, 0, spot_mode=SpotMode.PREFERRED, settings=SETTINGS)
    assert not [v for v in public["spec"]["volumes"] if "secret" in v]
    assert "PORTALIS_GIT_CREDENTIALS_DIR" not in {e["name"] for e in public["spec"]["containers"][0]["env"]}


def test_a_configmap_output_gets_a_ledger_configmap_per_shard_and_its_output_owned_by_the_job() -> None:
    # Issue 13, item 3: the output went to an emptyDir; with parallelism > 1 the shards' ledgers sat in
    # separate pods and the crate never assembled.
    job = tj("big-job").spec(parallelism=3, output={"configMap": {"name": "crate"}}).obj()
    maps = output_config_maps(job)
    names = [m["metadata"]["name"] for m in maps]
    assert names == ["big-job-w0-ledger", "big-job-w1-ledger", "big-job-w2-ledger", "crate"]
    for m in maps:
        assert m["metadata"]["ownerReferences"][0]["uid"] == job.metadata.uid
        assert m["metadata"]["labels"][JOB_LABEL] == "big-job"
    writers = {m["metadata"]["name"]: m["metadata"]["annotations"][WRITERS_ANNOTATION] for m in maps}
    assert writers["big-job-w1-ledger"] == "big-job-w1"  # a shard writes only its own ledger
    assert writers["crate"] == "big-job-w0,big-job-w1,big-job-w2"  # the last one to finish assembles
    env = {
        e["name"]: e.get("value")
        for e in build_worker_pod(job, 1, spot_mode=SpotMode.NEVER, settings=SETTINGS)["spec"]["containers"][
            0
        ]["env"]
    }
    assert env["PORTALIS_OUTPUT_CONFIGMAP"] == "crate"
    assert json.loads(env["PORTALIS_LEDGER_CONFIGMAPS"]) == names[:3]
    pvc = tj("p").spec(output={"persistentVolumeClaim": {"claimName": "out"}}).obj()
    assert output_config_maps(pvc) == []
    pod_env = build_worker_pod(pvc, 0, spot_mode=SpotMode.NEVER, settings=SETTINGS)["spec"]["containers"][0][
        "env"
    ]
    assert "PORTALIS_OUTPUT_CONFIGMAP" not in {e["name"] for e in pod_env}
