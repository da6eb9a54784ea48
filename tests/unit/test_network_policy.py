"""The workers' NetworkPolicy (network_policy.py; issue 13, item 10): it selects every worker pod and
admits other pods only on the metrics ports, never on Triton's gRPC or HTTP ports."""

from __future__ import annotations

import pytest
from builders import tj

from portalis_operator.manifests import TRITON_GRPC, WorkerPodSettings, build_worker_pod
from portalis_operator.network_policy import worker_network_policy
from portalis_operator.workload import SpotMode

pytestmark = pytest.mark.unit


def _selected(policy: dict, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "Exists"
        if expr["key"] not in labels:
            return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_only_the_metrics_ports_of_a_worker_pod_are_open_to_other_pods() -> None:
    job = tj("demo").spec(translation={"backend": "model"}).parallelism(2).obj()
    pod = build_worker_pod(job, 1, spot_mode=SpotMode.PREFERRED, settings=WorkerPodSettings(image="w"))
    policy = worker_network_policy("portalis-worker", "team-a")
    assert policy["metadata"]["namespace"] == "team-a"
    assert _selected(policy, pod["metadata"]["labels"])
    assert not _selected(policy, {"app": "something-else"})
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert "from" not in rule  # the scrapers' namespace is not known; the ports are what is limited
    open_ports = {p["port"] for p in rule["ports"]}
    containers = pod["spec"]["containers"] + pod["spec"]["initContainers"]
    named = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", [])}
    assert open_ports == {named["metrics"], named["triton-metrics"]}
    triton = next(c for c in containers if c["name"] == "triton")
    served = {int(TRITON_GRPC.rsplit(":", 1)[1])}
    served |= {int(a.split("=")[1]) for a in triton["args"] if a.startswith(("--http-port", "--grpc-port"))}
    assert served == {8000, 8001}
    assert not served & open_ports  # Triton answers only inside its own pod
