"""The chart's embedded copies, generated schema and dashboard are current, and values are documented."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from monitoring_support import CHART, DASHBOARD, ROOT, load_module

pytestmark = pytest.mark.unit

sync = load_module(CHART / "hack" / "sync.py", "chart_sync")
schema = load_module(CHART / "hack" / "schema.py", "chart_schema")
dashboard = load_module(ROOT / "monitoring" / "dashboards" / "generate.py", "dashboard_generate")


def test_chart_copies_are_byte_identical_to_their_sources() -> None:
    assert sync.stale() == [], "run: python charts/portalis/hack/sync.py"
    names = {dst.name for _, dst in sync.pairs()}
    assert {"portalis.dev_translationjobs.yaml", "portalis.dev_gpupools.yaml"} <= names
    assert {"portalis.rules.yaml", "portalis.json"} <= names


def test_sync_check_reports_drift(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src.yaml"
    dst = tmp_path / "dst.yaml"
    src.write_text("a: 1\n")
    dst.write_text("a: 2\n")
    monkeypatch.setattr(sync, "REPO", tmp_path)
    monkeypatch.setattr(sync, "pairs", lambda: [(src, dst)])
    monkeypatch.setattr(sync, "CHART", tmp_path)
    assert sync.stale() == ["dst.yaml"]
    assert sync.main(["--check"]) == 1
    sync.sync()
    assert dst.read_text() == "a: 1\n"
    assert sync.main(["--check"]) == 0


def test_values_schema_is_generated() -> None:
    assert (CHART / "values.schema.json").read_text() == schema.generate(), (
        "run: python charts/portalis/hack/schema.py"
    )


def _objects(node: dict, path: str = ""):
    if node.get("type") == "object":
        yield path, node
    for key, child in node.get("properties", {}).items():
        yield from _objects(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        yield from _objects(node["items"], f"{path}[]")


def test_schema_is_closed_except_string_maps_and_kubernetes_passthrough() -> None:
    doc = json.loads((CHART / "values.schema.json").read_text())
    passthrough = {".operator.affinity", ".operator.tolerations[]", ".operator.extraEnv[].valueFrom"}
    for path, node in _objects(doc):
        extra = node.get("additionalProperties")
        if path in passthrough:
            continue
        assert extra is False or extra in (
            {"type": "string"},
            {"type": ["string", "number"]},
        ), f"{path} accepts unknown fields"


def test_every_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z0-9_./\-]+:", line) and not line.lstrip().startswith("#"):
            prev = lines[i - 1].strip() if i else ""
            if not prev.startswith("#"):
                undocumented.append(f"line {i + 1}: {line.strip()}")
    assert not undocumented, "\n".join(undocumented)


def test_default_image_is_the_app_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["repository"] == "portalis/operator"
    assert values["image"]["tag"] == ""  # the template falls back to appVersion
    assert chart["appVersion"]


def test_dashboard_is_generated() -> None:
    assert DASHBOARD.read_text() == dashboard.render(), "run: python monitoring/dashboards/generate.py"
    doc = json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in doc["panels"]}
    for needed in ("Queued jobs by priority", "Pool nodes by capacity type", "Spot share", "GPUs"):
        assert needed in titles
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
