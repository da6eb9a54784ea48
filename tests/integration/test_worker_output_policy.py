"""Issue 13, item 3 on the real API server: a worker's token may update only the ConfigMaps of a
ConfigMap output whose `portalis.dev/writers` annotation names its own pod, and only their data (the
chart's `-worker-output` ValidatingAdmissionPolicy, templates/worker-admissionpolicy.yaml).

The worker's `-output` Role is made as the operator makes it (get/update on ConfigMaps in the namespace,
worker_namespace.WorkerNamespaces.ensure_worker_account); tokens are bound to a pod through the
TokenRequest API, as the kubelet and the local node agent issue them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from test_chart import by_kind, kubectl, render
from test_worker_token import WORKER_SA, _as_token, _forbidden, _pod_token, _worker_account

from harness import pod, wait_for
from portalis_worker.protocol import WRITERS_ANNOTATION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker_output_policy(cluster: Any) -> Iterator[None]:
    docs = render(f"vap-{uuid.uuid4().hex[:6]}", "portalis-system")
    policy = [
        d
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        for d in by_kind(docs, kind)
        if d["metadata"]["name"].endswith("-worker-output")
    ]
    assert len(policy) == 2
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=portalis-tests",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(policy),
    )
    yield
    for d in policy:
        kubectl("delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found")


def _output_role(rbac: Any, ns: str) -> None:
    name = f"{WORKER_SA}-output"
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}]
    rbac.create_namespaced_role(ns, {"metadata": {"name": name}, "rules": rules})
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": WORKER_SA, "namespace": ns}],
        },
    )


def _config_map(core: Any, ns: str, name: str, writers: str | None) -> None:
    annotations = {WRITERS_ANNOTATION: writers} if writers is not None else {}
    core.create_namespaced_config_map(ns, {"metadata": {"name": name, "annotations": annotations}})


def _write(api: client.CoreV1Api, ns: str, name: str, change: dict[str, Any]) -> ApiException | None:
    """Read, change, replace: what the worker does (configmap_output.ConfigMapOutput._write)."""
    cm = api.read_namespaced_config_map(name, ns)
    body = api.api_client.sanitize_for_serialization(cm)
    for key, value in change.items():
        body.setdefault(key, {}).update(value)
    try:
        api.replace_namespaced_config_map(name, ns, body)
    except ApiException as exc:
        return exc
    return None


def test_a_worker_token_updates_only_the_data_of_configmaps_that_name_its_pod(
    namespace: str, core: Any, api_client: Any, worker_output_policy: None
) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    _worker_account(rbac, core, namespace)
    _output_role(rbac, namespace)
    mine = core.create_namespaced_pod(namespace, pod("job-w0", serviceAccountName=WORKER_SA))
    _config_map(core, namespace, "job-w0-ledger", "job-w0")
    _config_map(core, namespace, "job-w1-ledger", "job-w1")
    _config_map(core, namespace, "crate", "job-w0,job-w1")
    _config_map(core, namespace, "team-settings", None)
    worker = _as_token(api_client, _pod_token(core, namespace, mine))
    data = {"data": {"x": "1"}}

    # until the policy is loaded, the other shard's ledger is writable: wait for the refusal
    exc = wait_for(lambda: _write(worker, namespace, "job-w1-ledger", data), timeout=30, what="the policy")
    assert "names its pod" in _forbidden(exc)
    assert "names its pod" in _forbidden(_write(worker, namespace, "team-settings", data))
    assert _write(worker, namespace, "job-w0-ledger", data) is None
    assert _write(worker, namespace, "crate", data) is None
    for metadata in (
        {"annotations": {WRITERS_ANNOTATION: "job-w0,someone"}},
        {"labels": {"portalis.dev/job": "other"}},
        {"finalizers": ["portalis.dev/keep"]},
    ):
        assert "only the data" in _forbidden(_write(worker, namespace, "crate", {"metadata": metadata}))
    # RBAC: no create or delete at all
    with pytest.raises(ApiException) as created:
        worker.create_namespaced_config_map(namespace, {"metadata": {"name": "new"}})
    assert created.value.status == 403
    with pytest.raises(ApiException) as deleted:
        worker.delete_namespaced_config_map("crate", namespace)
    assert deleted.value.status == 403
