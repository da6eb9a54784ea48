"""Issue 13, item 4 on the real API server: a worker's token may update only its own pod, and on it only
the worker's own annotations (the chart's ValidatingAdmissionPolicy, templates/worker-admissionpolicy.yaml).

The worker's ServiceAccount and Role are made as the operator makes them (get/patch on pods in the
namespace); tokens are bound to a pod through the TokenRequest API, as the kubelet (and the local node
agent) issue them, so the API server puts the pod's name in the token's user info.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from test_chart import by_kind, kubectl, render

from harness import pod, wait_for
from portalis_worker.protocol import PROGRESS_ANNOTATION, RESULT_ANNOTATION

pytestmark = pytest.mark.integration

WORKER_SA = "portalis-worker"  # the chart's worker.serviceAccountName default


@pytest.fixture(scope="module")
def worker_token_policy(cluster: Any) -> Iterator[None]:
    """The chart's worker-token policy and binding, applied for real; removed after the module."""
    docs = render(f"vap-{uuid.uuid4().hex[:6]}", "portalis-system")
    policy = [
        d
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        for d in by_kind(docs, kind)
        if d["metadata"]["name"].endswith("-worker-token")
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


def _worker_account(rbac: Any, core: Any, ns: str) -> None:
    """What worker_namespace.WorkerNamespaces.ensure_worker_account creates: the ServiceAccount,
    get/patch on pods."""
    core.create_namespaced_service_account(ns, {"metadata": {"name": WORKER_SA}})
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": WORKER_SA},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": WORKER_SA},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WORKER_SA},
            "subjects": [{"kind": "ServiceAccount", "name": WORKER_SA, "namespace": ns}],
        },
    )


def _as_token(admin: Any, token: str) -> client.CoreV1Api:
    """A client that authenticates with `token` only (no client certificate of the admin kubeconfig)."""
    conf = client.Configuration()
    conf.host = admin.configuration.host
    conf.ssl_ca_cert = admin.configuration.ssl_ca_cert
    conf.api_key = {"authorization": token}
    conf.api_key_prefix = {"authorization": "Bearer"}
    return client.CoreV1Api(client.ApiClient(conf))


def _pod_token(core: Any, ns: str, p: Any) -> str:
    body = {
        "spec": {
            "expirationSeconds": 600,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": p.metadata.name,
                "uid": p.metadata.uid,
            },
        }
    }
    return str(core.create_namespaced_service_account_token(WORKER_SA, ns, body).status.token)


def _patch(api: client.CoreV1Api, ns: str, name: str, metadata: dict[str, Any]) -> ApiException | None:
    try:
        api.patch_namespaced_pod(name, ns, {"metadata": metadata})
    except ApiException as exc:
        return exc
    return None


def _forbidden(exc: ApiException | None) -> str:
    assert exc is not None, "the patch was accepted"
    assert exc.status in (403, 422), exc
    return str(json.loads(exc.body)["message"])


def _wait_for_policy(core: Any, worker: client.CoreV1Api, ns: str) -> None:
    """The API server loads a new policy within a few seconds: until it refuses a patch of a probe pod
    (which no assertion looks at), the policy is not in effect yet."""
    core.create_namespaced_pod(ns, pod("probe", serviceAccountName=WORKER_SA))
    wait_for(
        lambda: _patch(worker, ns, "probe", {"labels": {"probe": uuid.uuid4().hex}}),
        timeout=30,
        what="the worker-token policy to take effect",
    )


def test_a_worker_token_patches_only_its_own_pods_own_annotations(
    namespace: str, core: Any, api_client: Any, worker_token_policy: None
) -> None:
    _worker_account(client.RbacAuthorizationV1Api(api_client), core, namespace)
    mine = core.create_namespaced_pod(namespace, pod("job-w0", serviceAccountName=WORKER_SA))
    other = core.create_namespaced_pod(namespace, pod("job-w1", serviceAccountName=WORKER_SA))
    worker = _as_token(api_client, _pod_token(core, namespace, mine))
    report = json.dumps({"unitsTotal": 3, "unitsDone": 1})

    _wait_for_policy(core, worker, namespace)
    # Another pod's progress: refused (before the policy, any worker token could write it).
    exc = _patch(worker, namespace, "job-w1", {"annotations": {PROGRESS_ANNOTATION: report}})
    assert "only its own pod" in _forbidden(exc)
    fresh = core.read_namespaced_pod("job-w1", namespace)
    assert PROGRESS_ANNOTATION not in (fresh.metadata.annotations or {})
    assert other.metadata.uid == fresh.metadata.uid

    # Its own pod: the progress and result annotations, and nothing else.
    exc = _patch(worker, namespace, "job-w0", {"annotations": {PROGRESS_ANNOTATION: report}})
    assert exc is None, exc.body
    assert _patch(worker, namespace, "job-w0", {"annotations": {RESULT_ANNOTATION: "{}"}}) is None
    got = core.read_namespaced_pod("job-w0", namespace).metadata.annotations
    assert got[PROGRESS_ANNOTATION] == report
    for metadata in (
        {"annotations": {"portalis.dev/other": "x"}},
        {"labels": {"portalis.dev/job": "someone-else"}},
        {"finalizers": ["portalis.dev/keep"]},
        {
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": str(uuid.uuid4())}
            ]
        },
    ):
        assert "only the portalis.dev/progress" in _forbidden(_patch(worker, namespace, "job-w0", metadata))

    # Removing another annotation is a change too.
    core.patch_namespaced_pod("job-w0", namespace, {"metadata": {"annotations": {"team": "a"}}})
    exc = _patch(worker, namespace, "job-w0", {"annotations": {"team": None}})
    assert "only the portalis.dev/progress" in _forbidden(exc)


def test_a_token_bound_to_no_pod_may_update_no_pod(
    namespace: str, core: Any, api_client: Any, worker_token_policy: None
) -> None:
    _worker_account(client.RbacAuthorizationV1Api(api_client), core, namespace)
    core.create_namespaced_pod(namespace, pod("job-w0", serviceAccountName=WORKER_SA))
    token = core.create_namespaced_service_account_token(WORKER_SA, namespace, {"spec": {}}).status.token
    worker = _as_token(api_client, token)
    _wait_for_policy(core, worker, namespace)
    exc = _patch(worker, namespace, "job-w0", {"annotations": {PROGRESS_ANNOTATION: "{}"}})
    assert "only its own pod" in _forbidden(exc)
    # Other identities are not affected: the namespace's admin may still patch the pod.
    core.patch_namespaced_pod("job-w0", namespace, {"metadata": {"labels": {"team": "a"}}})
