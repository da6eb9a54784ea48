"""The Helm chart against the local control plane: lint, render, server-side dry run, and real RBAC.

The monitoring.coreos.com CRDs (ServiceMonitor, PodMonitor, PrometheusRule) are not part of the local
control plane: the `monitoring_crds` fixture installs minimal copies (schema-less, preserve unknown
fields) when they are missing, so the dry run checks those objects' metadata but not their spec. The
project's CRDs come from the `crds` fixture; the chart has no others (no kopf peering: one Lease elects
the leader).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import wait_for
from portalis_dev.layout import REPO_ROOT
from portalis_dev.toolchain import binary

pytestmark = pytest.mark.integration

CHART = REPO_ROOT / "charts" / "portalis"
VALUES = sorted((Path(__file__).parent / "chart_values").glob("*.yaml"))
KUBE_VERSION = "1.35.0"


def run(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{' '.join(map(str, args[:4]))}...: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def kubectl(*args: str, stdin: str | None = None) -> str:
    return run(binary("kubectl"), *args, stdin=stdin)


def render(release: str, namespace: str, values: Path | None = None, *extra: str) -> list[dict[str, Any]]:
    args = [binary("helm"), "template", release, str(CHART), "-n", namespace, "--kube-version", KUBE_VERSION]
    if values is not None:
        args += ["-f", str(values)]
    return [d for d in yaml.safe_load_all(run(*args, *extra)) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _minimal_crd(plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def _established(name: str) -> bool:
    out = kubectl("get", "crd", name, "-o", "jsonpath={.status.conditions[?(@.type=='Established')].status}")
    return out == "True"


@pytest.fixture(scope="module")
def monitoring_crds(cluster: Any) -> None:
    for plural, kind in (
        ("servicemonitors", "ServiceMonitor"),
        ("podmonitors", "PodMonitor"),
        ("prometheusrules", "PrometheusRule"),
    ):
        name = f"{plural}.monitoring.coreos.com"
        present = subprocess.run([binary("kubectl"), "get", "crd", name], capture_output=True).returncode == 0
        if not present:  # never replace a real prometheus-operator CRD
            kubectl("create", "-f", "-", stdin=yaml.safe_dump(_minimal_crd(plural, kind)))
        wait_for(lambda n=name: _established(n), timeout=30, what=f"CRD {name} Established")


def test_helm_lint_with_every_values_file() -> None:
    for values in VALUES:
        out = run(
            binary("helm"), "lint", str(CHART), "--strict", "-f", str(values), "--kube-version", KUBE_VERSION
        )
        assert "1 chart(s) linted, 0 chart(s) failed" in out, values.name


def test_schema_rejects_a_typo() -> None:
    proc = subprocess.run(
        [
            binary("helm"),
            "template",
            "x",
            str(CHART),
            "--kube-version",
            KUBE_VERSION,
            "--set",
            "operator.replica=3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "replica" in proc.stderr
    assert "additional properties" in proc.stderr.lower() or "not allowed" in proc.stderr.lower()


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_rendered_chart_passes_server_side_dry_run(
    values: Path, namespace: str, crds: list[str], monitoring_crds: None
) -> None:
    docs = render(f"dry-{uuid.uuid4().hex[:6]}", namespace, values)
    # The helm test Pod's admission looks its ServiceAccount up, which a dry run does not create: create
    # it for real (it goes with the test namespace).
    accounts = by_kind(docs, "ServiceAccount")
    if accounts:
        kubectl(
            "apply",
            "--server-side",
            "--field-manager=portalis-tests",
            "-f",
            "-",
            stdin=yaml.safe_dump_all(accounts),
        )
    out = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=portalis-tests",
        "--force-conflicts",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(docs),
    )
    assert out.count("(server dry run)") == len(docs), out


def test_defaults_render_what_the_platform_team_expects() -> None:
    docs = render("portalis", "portalis-system")
    (deploy,) = by_kind(docs, "Deployment")
    spec = deploy["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert deploy["spec"]["replicas"] == 2
    assert (
        container["image"]
        == "portalis/operator:" + yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    )
    assert container["command"] == ["portalis-operator"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PORTALIS_OPERATOR_LEADER_ELECTION"] == "true"  # active/standby through the one Lease
    assert env["PORTALIS_OPERATOR_HEALTH_PORT"] == "8080"
    assert env["PORTALIS_OPERATOR_METRICS_PORT"] == "9090"
    assert env["PORTALIS_OPERATOR_POOL"] == "dgx"  # the GPUPool the chart creates
    # every variable the chart sets is one the operator's settings object knows
    from portalis_operator.settings import Settings

    known = {f"PORTALIS_OPERATOR_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, set(env) - known
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9090, "health": 8080}
    # liveness: the process is healthy; readiness: it holds the Lease or stands by (health.py). An
    # API-server outage must fail readiness only, never restart the replicas.
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["runAsNonRoot"] is True
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    crds = by_kind(docs, "CustomResourceDefinition")
    names = {c["metadata"]["name"] for c in crds}
    assert names == {"translationjobs.portalis.dev", "gpupools.portalis.dev"}
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    for c in crds:  # the rendered CRD is the source of truth, plus Helm's labels and annotations
        if c["metadata"]["name"].endswith("portalis.dev"):
            source = yaml.safe_load(
                (REPO_ROOT / "crds" / f"portalis.dev_{c['spec']['names']['plural']}.yaml").read_text()
            )
            assert c["spec"] == source["spec"]
    (rule,) = by_kind(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    source = yaml.safe_load((REPO_ROOT / "monitoring" / "rules" / "portalis.rules.yaml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    (cm,) = by_kind(docs, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert (
        cm["data"]["portalis.json"] == (REPO_ROOT / "monitoring/dashboards/portalis.json").read_text().strip()
    )
    (sm,) = by_kind(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"][0]["relabelings"][0]["replacement"] == "portalis-operator"
    assert not [d for d in docs if d["apiVersion"].startswith("kopf.dev/")]  # no kopf peering
    rules = [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d.get("rules") or ()]
    assert not [r for r in rules if "kopf.dev" in r.get("apiGroups", ())]
    (test_pod,) = by_kind(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"


def test_worker_storage_limits_reach_the_operator() -> None:
    # Issue 13, item 10: worker pods had no emptyDir sizeLimit and no ephemeral-storage limits.
    from portalis_operator.settings import Settings

    def env(docs: list[dict[str, Any]]) -> dict[str, str | None]:
        (deploy,) = by_kind(docs, "Deployment")
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value") for e in container["env"]}

    # The chart's defaults are the operator's defaults (one set of numbers, documented in values.yaml).
    defaults = env(render("portalis", "portalis-system"))
    storage = {k: v for k, v in defaults.items() if "SIZE_LIMIT" in k or "EPHEMERAL_STORAGE" in k}
    assert len(storage) == 6
    for name, value in storage.items():
        field = name.removeprefix("PORTALIS_OPERATOR_").lower()
        assert Settings.model_fields[field].default == value, name
    changed = env(render("portalis", "portalis-system", None, "--set", "worker.storage.sourceSizeLimit=50Gi"))
    assert changed["PORTALIS_OPERATOR_WORKER_SOURCE_SIZE_LIMIT"] == "50Gi"
    proc = subprocess.run(
        [
            binary("helm"),
            "template",
            "x",
            str(CHART),
            "--kube-version",
            KUBE_VERSION,
            "--set",
            "worker.storage.ephemeralStorage.limit=lots",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ephemeralStorage" in proc.stderr


def test_runbook_base_url_is_a_value() -> None:
    docs = render(
        "p", "ns", None, "--set", "monitoring.prometheusRule.runbookBaseURL=https://wiki.example.org/rb/"
    )
    (rule,) = by_kind(docs, "PrometheusRule")
    urls = [
        r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r
    ]
    assert urls
    assert all(u.startswith("https://wiki.example.org/rb/") for u in urls)
    assert all(u.endswith(".md") for u in urls)


def test_own_custom_resources_are_hooks_only_until_their_api_exists() -> None:
    first = render("p", "ns")
    for kind in ("GPUPool",):
        (obj,) = by_kind(first, kind)
        ann = obj["metadata"]["annotations"]
        assert ann["helm.sh/hook"] == "post-install"
        assert ann["meta.helm.sh/release-name"] == "p"  # so that a later upgrade adopts it
    later = render(
        "p",
        "ns",
        None,
        "--api-versions",
        "portalis.dev/v1alpha1/GPUPool",
    )
    for kind in ("GPUPool",):
        (obj,) = by_kind(later, kind)
        assert "helm.sh/hook" not in obj["metadata"].get("annotations", {})


def test_switches_remove_what_they_should() -> None:
    values = {p.stem: p for p in VALUES}
    off = render("p", "ns", values["monitoring-off"])
    kinds = {d["kind"] for d in off}
    assert not kinds & {"Service", "ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"}
    external = render("p", "ns", values["crds-external"])
    kinds = {d["kind"] for d in external}
    assert not kinds & {"CustomResourceDefinition", "GPUPool", "PodDisruptionBudget", "Pod"}
    no_keep = render("p", "ns", None, "--set", "crds.keep=false")
    for crd in by_kind(no_keep, "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in crd["metadata"].get("annotations", {})


RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


@pytest.fixture
def rbac(namespace: str, crds: list[str]) -> Iterator[Any]:
    """Apply the rendered ServiceAccount and RBAC objects for real (release namespace: the test's);
    remove them after. The CRDs are installed so that `can-i` resolves their resources."""
    applied: list[tuple[str, str, str | None]] = []

    def apply(values: Path | None, *extra: str) -> str:
        release = f"rbac-{uuid.uuid4().hex[:6]}"
        docs = render(release, namespace, values, *extra)
        keep = [d for d in docs if d["kind"] in RBAC_KINDS]
        kubectl(
            "apply",
            "--server-side",
            "--field-manager=portalis-tests",
            "-f",
            "-",
            stdin=yaml.safe_dump_all(keep),
        )
        for d in keep:
            if d["kind"] != "ServiceAccount":
                applied.append((d["kind"].lower(), d["metadata"]["name"], d["metadata"].get("namespace")))
        (sa,) = by_kind(keep, "ServiceAccount")
        return f"system:serviceaccount:{namespace}:{sa['metadata']['name']}"

    yield apply
    for kind, name, ns in applied:
        kubectl("delete", kind, name, "--ignore-not-found", *(["-n", ns] if ns else []))


def can_i(user: str, verb: str, resource: str, namespace: str | None = None) -> bool:
    # `kubectl auth can-i VERB a/b` would ask about the object named b: pass subresources apart.
    resource, _, sub = resource.partition("/")
    args = [binary("kubectl"), "auth", "can-i", verb, resource, f"--as={user}"]
    if sub:
        args.append(f"--subresource={sub}")
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip()
    return out == "yes"


def test_rbac_static_provider_is_least_privilege(rbac: Any) -> None:
    values = {p.stem: p for p in VALUES}
    user = rbac(values["defaults"])
    allowed = [
        ("patch", "translationjobs.portalis.dev/status"),
        ("update", "translationjobs.portalis.dev/status"),
        ("watch", "translationjobs.portalis.dev"),
        ("update", "gpupools.portalis.dev/status"),
        ("create", "pods"),
        ("delete", "pods"),
        ("create", "events"),
        ("list", "nodes"),
        ("create", "serviceaccounts"),
        # the worker's Role (get/patch pods, which the operator itself holds) in each job namespace
        ("create", "roles.rbac.authorization.k8s.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io"),
    ]
    denied = [
        ("get", "secrets"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("delete", "nodes"),
        ("create", "nodes"),
        ("delete", "translationjobs.portalis.dev"),
        ("create", "translationjobs.portalis.dev"),
        ("delete", "pods/status"),
        ("patch", "nodes/status"),
        ("escalate", "clusterroles.rbac.authorization.k8s.io"),
        ("escalate", "roles.rbac.authorization.k8s.io"),
        ("bind", "clusterroles.rbac.authorization.k8s.io"),
        ("delete", "roles.rbac.authorization.k8s.io"),
        ("patch", "machinedeployments.cluster.x-k8s.io/scale"),
        ("create", "pods/exec"),
        ("delete", "serviceaccounts"),
        # issue 13, item 8: the Lease only in the operator's own namespace (below), never kube-system's
        ("update", "leases.coordination.k8s.io"),
        ("create", "leases.coordination.k8s.io"),
    ]
    wait_for(lambda: can_i(user, "create", "pods", "default"), timeout=30, what="RBAC to take effect")
    for verb, resource in allowed:
        assert can_i(user, verb, resource), f"should be allowed: {verb} {resource}"
        assert can_i(user, verb, resource, "some-team-ns"), (
            f"should be allowed in a job namespace: {verb} {resource}"
        )
    for verb, resource in denied:
        assert not can_i(user, verb, resource), f"should be denied: {verb} {resource}"
        assert not can_i(user, verb, resource, "kube-system"), (
            f"should be denied in kube-system: {verb} {resource}"
        )
    release_ns = user.split(":")[2]
    for verb in ("get", "create", "update"):
        assert can_i(user, verb, "leases.coordination.k8s.io", release_ns), f"{verb} its own Lease"
    assert not can_i(user, "delete", "leases.coordination.k8s.io", release_ns)


def test_rbac_follows_watch_namespaces(rbac: Any, core: Any) -> None:
    # Issue 13, item 8: with operator.watchNamespaces set, the operator used to hold every namespaced
    # permission cluster-wide (pods, Roles, RoleBindings, Leases in kube-system included).
    teams = [f"team-{x}-{uuid.uuid4().hex[:5]}" for x in "ab"]
    other = f"team-c-{uuid.uuid4().hex[:5]}"
    for ns in (*teams, other):
        core.create_namespace({"metadata": {"name": ns, "labels": {"portalis.dev/test": "true"}}})
    try:
        user = rbac(None, "--set", "operator.watchNamespaces={" + ",".join(teams) + "}")
        release_ns = user.split(":")[2]
        wait_for(lambda: can_i(user, "create", "pods", teams[0]), timeout=30, what="RBAC to take effect")
        in_job_namespaces = [
            ("create", "pods"),
            ("delete", "pods"),
            ("patch", "pods"),
            ("patch", "translationjobs.portalis.dev/status"),
            ("watch", "translationjobs.portalis.dev"),
            ("create", "events"),
            ("create", "serviceaccounts"),
            ("create", "roles.rbac.authorization.k8s.io"),
            ("create", "rolebindings.rbac.authorization.k8s.io"),
            ("create", "networkpolicies.networking.k8s.io"),  # the workers' NetworkPolicy (item 10)
            ("create", "configmaps"),  # a ConfigMap output's ledgers and crate (item 3)
            ("update", "configmaps"),  # held only to grant it to the workers' -output Role
        ]
        for verb, resource in in_job_namespaces:
            for ns in teams:
                assert can_i(user, verb, resource, ns), f"should be allowed in {ns}: {verb} {resource}"
            for ns in (other, "kube-system", release_ns):
                assert not can_i(user, verb, resource, ns), f"should be denied in {ns}: {verb} {resource}"
            assert not can_i(user, verb, resource), f"should be denied cluster-wide: {verb} {resource}"
        # Leases only in the operator's own namespace: kube-system's leader Leases are out of reach.
        assert can_i(user, "update", "leases.coordination.k8s.io", release_ns)
        for ns in (*teams, other, "kube-system"):
            assert not can_i(user, "update", "leases.coordination.k8s.io", ns), ns
            assert not can_i(user, "create", "leases.coordination.k8s.io", ns), ns
        # Events about GPUPools live in `default`; nothing else there.
        assert can_i(user, "create", "events", "default")
        assert not can_i(user, "create", "pods", "default")
        # Cluster-wide, read only: pods (GPU accounting), nodes, GPUPools.
        assert can_i(user, "list", "pods")
        assert can_i(user, "list", "nodes")
        assert can_i(user, "patch", "gpupools.portalis.dev/status")
        assert not can_i(user, "get", "secrets", teams[0])
    finally:
        for ns in (*teams, other):
            core.delete_namespace(ns)


def test_rbac_kwok_and_cluster_api_add_only_their_provider_verbs(rbac: Any, capi_crds: list[str]) -> None:
    values = {p.stem: p for p in VALUES}
    kwok = rbac(values["kwok"])
    capi = rbac(values["cluster-api"])
    wait_for(lambda: can_i(kwok, "create", "nodes") and can_i(capi, "list", "nodes"), timeout=30, what="RBAC")
    assert can_i(kwok, "delete", "nodes")
    assert not can_i(kwok, "patch", "machinedeployments.cluster.x-k8s.io/scale")
    assert can_i(capi, "patch", "machinedeployments.cluster.x-k8s.io/scale")
    assert can_i(capi, "patch", "machines.cluster.x-k8s.io")
    assert not can_i(capi, "delete", "nodes")
    for user in (kwok, capi):
        assert not can_i(user, "get", "secrets")
