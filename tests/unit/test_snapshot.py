"""Raw API objects to views (snapshot.py): which pods belong to which job (issue 13, item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from portalis_operator.api import API_VERSION, TranslationJob
from portalis_operator.manifests import GPU_RESOURCE, JOB_LABEL, SHARD_LABEL, owner_reference, worker_pod_name
from portalis_operator.snapshot import build_jobs, gpu_hold, other_gpus, worker_pod

pytestmark = pytest.mark.unit


def job(name: str, namespace: str, uid: str) -> TranslationJob:
    return TranslationJob.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": {
                "source": {"configMap": {"name": "src"}},
                "output": {"persistentVolumeClaim": {"claimName": "out", "path": "/crate"}},
                "target": {"crateName": "c"},
                "parallelism": 2,
            },
        }
    )


def raw_pod(
    owner: TranslationJob,
    shard: int,
    namespace: str | None = None,
    name: str | None = None,
    **owner_fields: Any,
) -> dict[str, Any]:
    ref = {**owner_reference(owner), **owner_fields}
    return {
        "metadata": {
            "name": name or worker_pod_name(owner.metadata.name, shard),
            "namespace": namespace or owner.metadata.namespace,
            "uid": f"pod-{namespace}-{shard}-{name}",
            "labels": {JOB_LABEL: owner.metadata.name, SHARD_LABEL: str(shard)},
            "ownerReferences": [ref],
        },
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }


def pods_of(jobs: list[TranslationJob], raws: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
    views = build_jobs(jobs, [p for p in map(worker_pod, raws) if p is not None])
    return {v.key: {s: p.name for s, p in v.pods.items()} for v in views}


def test_the_operators_own_pods_are_matched() -> None:
    a = job("victim", "team-a", "uid-a")
    assert pods_of([a], [raw_pod(a, 0), raw_pod(a, 1)]) == {"team-a/victim": {0: "victim-w0", 1: "victim-w1"}}


def test_a_pod_forged_in_another_namespace_is_not_matched() -> None:
    # Namespace B holds a pod with the job label and an ownerReference naming job A's UID: the UID alone
    # used to match it to job A, and the planner then deleted A's pod of the same shard by name.
    a = job("victim", "team-a", "uid-a")
    forged = raw_pod(a, 0, namespace="team-b")
    assert pods_of([a], [forged]) == {"team-a/victim": {}}
    assert pods_of([a], [raw_pod(a, 0), forged]) == {"team-a/victim": {0: "victim-w0"}}


@pytest.mark.parametrize(
    "owner_fields",
    [
        {"controller": False},
        {"controller": None},
        {"apiVersion": "evil.example.com/v1alpha1"},
        {"apiVersion": "v1"},
        {"kind": "Job"},
    ],
)
def test_only_a_controller_reference_to_our_kind_matches(owner_fields: dict[str, Any]) -> None:
    a = job("victim", "team-a", "uid-a")
    assert pods_of([a], [raw_pod(a, 0, **owner_fields)]) == {"team-a/victim": {}}
    assert API_VERSION.startswith("portalis.dev/")


def test_a_pod_whose_name_is_not_its_shards_is_not_matched() -> None:
    a = job("victim", "team-a", "uid-a")
    assert pods_of([a], [raw_pod(a, 1, name="victim-w0")]) == {"team-a/victim": {}}
    assert pods_of([a], [raw_pod(a, 0, name="anything")]) == {"team-a/victim": {}}


def test_a_forged_pod_in_the_jobs_own_namespace_cannot_shadow_a_shard() -> None:
    a = job("victim", "team-a", "uid-a")
    shadow = raw_pod(a, 0, name="shadow")  # same owner and shard label, listed after the real pod
    assert pods_of([a], [raw_pod(a, 0), shadow]) == {"team-a/victim": {0: "victim-w0"}}


# Any tenant may create a pod with spec.nodeName set to a pool node and any integer quantity of GPUs:
# its GPUs are counted against that node, and `int("1k")` used to raise in every cycle.
@pytest.mark.parametrize(
    ("quantity", "gpus"),
    [
        ("2", 2),
        (3, 3),
        ("1k", 1000),
        ("1e3", 1000),
        ("2000m", 2),
        ("1Ki", 1024),
        ("0.5", 1),
        ("-1", 0),
        ("x", 0),
        ("1e999999999", 1_000_000),
    ],
)
def test_gpu_quantities_in_any_canonical_form(quantity: object, gpus: int) -> None:
    pod = {"spec": {"nodeName": "n1", "containers": [{"resources": {"limits": {GPU_RESOURCE: quantity}}}]}}
    hold = gpu_hold({"metadata": {"name": "p", "namespace": "ns"}, **pod})
    assert hold == ((("ns", "p"), "n1", gpus) if gpus else None)


# A pod that carries the job label but belongs to no job (forged in any namespace, or left by a deleted
# job) holds GPUs like any other pod. It used to be counted nowhere: listed as a worker, it matched no
# job; it was left out of the other pods' GPUs by the label; the node looked free.
def holding(namespace: str, name: str, gpus: int, node: str = "n1", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"nodeName": node, "containers": [{"resources": {"limits": {GPU_RESOURCE: str(gpus)}}}]},
        "status": {"phase": "Running"},
    }


def test_gpus_held_by_pods_that_are_not_matched_workers() -> None:
    a = job("victim", "team-a", "uid-a")
    real = {**raw_pod(a, 0), "spec": holding("team-a", "victim-w0", 4)["spec"]}
    forged = {**raw_pod(a, 1, namespace="team-b"), "spec": holding("team-b", "victim-w1", 8)["spec"]}
    other = holding("team-c", "notebook", 2, node="n2")
    views = build_jobs([a], [p for p in map(worker_pod, [real, forged]) if p is not None])
    holds = [h for h in map(gpu_hold, [real, forged, other]) if h is not None]
    assert other_gpus(holds, views) == {"n1": 8, "n2": 2}  # the matched worker's 4 are the job's
