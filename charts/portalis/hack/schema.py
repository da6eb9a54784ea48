"""Generate values.schema.json from values.yaml, so the schema can never lag behind the values.

Types come from the defaults, descriptions from the comment block above each key. Every object gets
`additionalProperties: false`, so a typo in a values file fails `helm install/template/lint`, except where
OVERRIDES says otherwise: string maps (labels, annotations, node selectors) take any key but only string
values, and Kubernetes pass-through fields (affinity, tolerations, env valueFrom) are left to the API
server's own validation. A unit test checks that the committed schema equals this output.

    python charts/portalis/hack/schema.py           # rewrite values.schema.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1]
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"

STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY_MAP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number"]},
}
# A storage quantity as the operator accepts it (settings.py): whole bytes, optional binary or SI suffix.
STORAGE_QUANTITY: dict[str, Any] = {"pattern": "^[1-9][0-9]{0,15}(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"}
# Kubernetes objects passed through unchanged; the API server validates them.
PASSTHROUGH_OBJECT: dict[str, Any] = {"type": "object"}

OVERRIDES: dict[str, dict[str, Any]] = {
    "commonLabels": STRING_MAP,
    "image.pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "image.digest": {"pattern": "^(sha256:[a-f0-9]{64})?$"},
    "imagePullSecrets": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
        },
    },
    "operator.replicas": {"minimum": 1},
    "operator.startTimeoutSeconds": {"minimum": 10, "maximum": 86400},
    "operator.logLevel": {"enum": ["quiet", "info", "verbose", "debug"]},
    "tenancy.defaultMaxPriority": {"enum": ["background", "low", "normal", "high", "critical"]},
    "operator.extraEnv": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "value": {"type": "string"},
                "valueFrom": PASSTHROUGH_OBJECT,
            },
            "additionalProperties": False,
        },
    },
    "operator.watchNamespaces": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "uniqueItems": True,
    },
    "operator.metricsPort": {"minimum": 0, "maximum": 65535},
    "operator.healthPort": {"minimum": 0, "maximum": 65535},
    "operator.resources.requests": QUANTITY_MAP,
    "operator.resources.limits": QUANTITY_MAP,
    "operator.nodeSelector": STRING_MAP,
    "operator.tolerations": {"type": "array", "items": PASSTHROUGH_OBJECT},
    "operator.affinity": PASSTHROUGH_OBJECT,
    "operator.podAnnotations": STRING_MAP,
    "operator.podLabels": STRING_MAP,
    "operator.terminationGracePeriodSeconds": {"minimum": 0},
    "operator.podDisruptionBudget.minAvailable": {"minimum": 0},
    "serviceAccount.annotations": STRING_MAP,
    **{
        f"worker.storage.{key}": STORAGE_QUANTITY
        for key in (
            "scratchSizeLimit",
            "sourceSizeLimit",
            "outputSizeLimit",
            "ledgerSizeLimit",
            "ephemeralStorage.request",
            "ephemeralStorage.limit",
        )
    },
    "provider.type": {"enum": ["kwok", "clusterAPI", "static"]},
    "provider.static.nodeSelector": STRING_MAP,
    "gpuPool.name": {"pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
    "gpuPool.nodes.min": {"minimum": 0, "maximum": 1000},
    "gpuPool.nodes.max": {"minimum": 1, "maximum": 1000},
    "gpuPool.gpusPerNode": {"minimum": 1, "maximum": 16},
    "gpuPool.spot.targetRatio": {"type": "number", "minimum": 0, "maximum": 1},
    "gpuPool.spot.minOnDemand": {"minimum": 0, "maximum": 1000},
    "gpuPool.pricing.spotPerGPUHour": {"type": "number", "minimum": 0},
    "gpuPool.pricing.onDemandPerGPUHour": {"type": "number", "minimum": 0},
    "monitoring.service.port": {"minimum": 1, "maximum": 65535},
    "monitoring.serviceMonitor.interval": {"pattern": "^[0-9]+(ms|s|m|h)$"},
    "monitoring.serviceMonitor.scrapeTimeout": {"pattern": "^[0-9]+(ms|s|m|h)$"},
    "monitoring.serviceMonitor.labels": STRING_MAP,
    "monitoring.podMonitor.interval": {"pattern": "^[0-9]+(ms|s|m|h)$"},
    "monitoring.podMonitor.labels": STRING_MAP,
    "monitoring.prometheusRule.runbookBaseURL": {"pattern": "^https?://.+/$"},
    "monitoring.prometheusRule.labels": STRING_MAP,
    "monitoring.dashboard.labels": STRING_MAP,
}

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_./\-]+):(?:\s|$)")


def comments(text: str) -> dict[str, str]:
    """Dotted path -> the comment block right above that key."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        m = KEY.match(line)
        if m:
            indent = len(m.group("indent"))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group("key")))
            path = ".".join(k for _, k in stack)
            if block:
                out[path] = " ".join(block)
        block = []
    return out


def infer(value: Any, path: str, docs: dict[str, str]) -> dict[str, Any]:
    override = OVERRIDES.get(path)
    if override is not None and "type" in override:
        schema = dict(override)
    elif isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": "integer"}
    elif isinstance(value, float):
        schema = {"type": "number"}
    elif isinstance(value, str):
        schema = {"type": "string"}
    elif isinstance(value, dict):
        schema = {
            "type": "object",
            "properties": {k: infer(v, f"{path}.{k}" if path else k, docs) for k, v in value.items()},
            "additionalProperties": False,
        }
    elif isinstance(value, list):
        raise ValueError(f"{path}: list values need an entry in OVERRIDES")
    else:
        raise ValueError(f"{path}: cannot infer a schema for {value!r}")
    if override is not None and "type" not in override:
        schema.update(override)
    if path in docs:
        schema = {"description": docs[path], **schema}
    return schema


def generate() -> str:
    text = VALUES.read_text()
    schema = infer(yaml.safe_load(text), "", comments(text))
    schema.pop("description", None)
    doc = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "Portalis chart values", **schema}
    return json.dumps(doc, indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if SCHEMA.read_text() == generate() else "values.schema.json is stale: run hack/schema.py")
    SCHEMA.write_text(generate())
