"""The NetworkPolicy of worker pods, one per job namespace (created with the worker ServiceAccount).

Triton in a worker pod serves gRPC (8001) and HTTP (8000) without authentication: anything that can reach
the pod IP could run the models on the job's GPUs or read what it translates. The worker calls Triton on
localhost, which a NetworkPolicy does not govern, so the policy admits, from anywhere, only the two
metrics ports Prometheus scrapes (worker 9400, Triton 8002), and nothing else: every other port of a
worker pod, Triton's included, is reachable only from inside its own pod. Egress is left open: workers
fetch git sources and talk to the API server (progress) and to object stores whose addresses the operator
does not know. Enforced only where the cluster's network plugin implements NetworkPolicy.
"""

from __future__ import annotations

from typing import Any

from portalis_operator.manifests import JOB_LABEL, TRITON_METRICS_PORT, WORKER_METRICS_PORT


def worker_network_policy(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "portalis-operator"},
        },
        "spec": {
            "podSelector": {"matchExpressions": [{"key": JOB_LABEL, "operator": "Exists"}]},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "ports": [
                        {"protocol": "TCP", "port": WORKER_METRICS_PORT},
                        {"protocol": "TCP", "port": TRITON_METRICS_PORT},
                    ]
                }
            ],
        },
    }
