"""Issue 13, item 6 on the real API server: a namespace may use a priority only up to what the platform
team allowed (namespace label portalis.dev/max-priority, else the chart's tenancy.defaultMaxPriority),
enforced by the chart's ValidatingAdmissionPolicy (templates/translationjob-admissionpolicy.yaml).

The rendered binding applies to every namespace; here it is narrowed to this module's namespaces
(a namespaceSelector on a test label), so that other tests of the same session that create critical jobs
are never refused while it is in place, or while its removal propagates.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException
from test_chart import by_kind, kubectl, render
from test_operator import GROUP, PLURAL, VERSION, job

from harness import wait_for

pytestmark = pytest.mark.integration

SCOPE = "portalis.dev/priority-ceiling-test"


@pytest.fixture(scope="module")
def priority_policy(cluster: Any) -> Iterator[None]:
    docs = render(f"prio-{uuid.uuid4().hex[:6]}", "portalis-system")
    policy = by_kind(docs, "ValidatingAdmissionPolicy")
    policy = [p for p in policy if p["metadata"]["name"].endswith("priority-ceiling")]
    bindings = [
        b
        for b in by_kind(docs, "ValidatingAdmissionPolicyBinding")
        if b["metadata"]["name"].endswith("priority-ceiling")
    ]
    assert len(policy) == len(bindings) == 1
    assert "matchResources" not in bindings[0]["spec"]  # the chart's binding: every namespace
    bindings[0]["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {SCOPE: "true"}}}
    objs = policy + bindings
    kubectl(
        "apply", "--server-side", "--field-manager=portalis-tests", "-f", "-", stdin=yaml.safe_dump_all(objs)
    )
    yield
    for d in objs:
        kubectl("delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found")


@pytest.fixture
def tenant(core: Any, api_client: Any, crds: list[str], priority_policy: None) -> Iterator[Any]:
    """Make a namespace in scope of the policy, with or without a max-priority label."""
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)
    made: list[str] = []

    def make(max_priority: str | None) -> Any:
        ns = f"prio-{uuid.uuid4().hex[:6]}"
        labels = {"portalis.dev/test": "true", SCOPE: "true"}
        if max_priority is not None:
            labels["portalis.dev/max-priority"] = max_priority
        core.create_namespace({"metadata": {"name": ns, "labels": labels}})
        made.append(ns)

        def create(name: str, priority: str) -> ApiException | None:
            try:
                custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, job(name, priority))
            except ApiException as exc:
                return exc
            return None

        def set_priority(name: str, priority: str) -> ApiException | None:
            try:
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL, name, {"spec": {"priority": priority}}
                )
            except ApiException as exc:
                return exc
            return None

        return ns, create, set_priority

    yield make
    for ns in made:
        core.delete_namespace(ns)


def _refused(exc: ApiException | None) -> str:
    assert exc is not None, "the request was accepted"
    assert exc.status in (403, 422), exc
    return str(json.loads(exc.body)["message"])


def test_a_namespace_may_use_priorities_only_up_to_its_ceiling(tenant: Any) -> None:
    # Before: any tenant could create a critical job and preempt every other team.
    _, create, set_priority = tenant("normal")
    exc = wait_for(
        lambda: create(f"probe-{uuid.uuid4().hex[:5]}", "critical"),
        timeout=30,
        what="the priority policy to take effect",
    )
    message = _refused(exc)
    assert "spec.priority: critical is above the highest priority namespace" in message
    assert "(normal, namespace label portalis.dev/max-priority)" in message
    assert "high" in _refused(create("hi", "high"))
    assert create("ok", "normal") is None
    assert create("low", "low") is None
    # Raising the priority of a stored job is checked too; a change within the ceiling is not refused.
    assert "critical" in _refused(set_priority("low", "critical"))
    assert set_priority("low", "normal") is None


def test_the_chart_default_applies_without_a_label_and_a_bad_label_refuses(tenant: Any, core: Any) -> None:
    _, create, _ = tenant(None)
    exc = wait_for(
        lambda: create(f"probe-{uuid.uuid4().hex[:5]}", "critical"),
        timeout=30,
        what="the priority policy to take effect",
    )
    assert "(high, namespace label" in _refused(exc)  # tenancy.defaultMaxPriority
    assert create("hi", "high") is None
    allowed_ns, create_allowed, _ = tenant("critical")
    wait_for(lambda: create_allowed("crit", "critical") is None, timeout=30, what="critical allowed")
    _, create_bad, _ = tenant("urgent")
    assert "not one of background, low, normal, high, critical" in _refused(create_bad("x", "low"))
    # A ceiling lowered later does not block updates that leave the priority alone.
    core.patch_namespace(allowed_ns, {"metadata": {"labels": {"portalis.dev/max-priority": "low"}}})
    from kubernetes import client

    custom = client.CustomObjectsApi(core.api_client)
    wait_for(
        lambda: (
            core.read_namespace(allowed_ns).metadata.labels["portalis.dev/max-priority"] == "low"
            and custom.patch_namespaced_custom_object(
                GROUP, VERSION, allowed_ns, PLURAL, "crit", {"spec": {"suspend": True}}
            )
        ),
        timeout=30,
        what="an update that leaves the priority alone",
    )
