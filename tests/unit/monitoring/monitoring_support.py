"""Paths and loaders shared by the monitoring and chart unit tests."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "monitoring" / "rules" / "portalis.rules.yaml"
RULE_TESTS = sorted((ROOT / "monitoring" / "rules" / "tests").glob("*.yaml"))
ALERTMANAGER = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanagerconfig.yaml"
DASHBOARD = ROOT / "monitoring" / "dashboards" / "portalis.json"
RUNBOOKS = ROOT / "docs" / "runbooks"
CHART = ROOT / "charts" / "portalis"
RUNBOOK_BASE = "https://github.com/portalis-dgx/portalis/blob/main/docs/runbooks/"


def load_rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]


def record_rules() -> list[dict[str, Any]]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "record" in r]


def alert_names() -> set[str]:
    return {r["alert"] for r in alert_rules()}


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric or recording-rule names we care about.

    Strings (label values) are removed first; what is left is kept when it is a recording-rule name
    (it has a colon) or looks like a metric of ours or of the exporters we rely on.
    """
    bare = _STRING.sub('""', expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range selectors like [5m]
    out: set[str] = set()
    for ident in _IDENT.findall(bare):
        if ":" in ident or ident.startswith(("portalis_", "nv_", "DCGM_", "kube_")) or ident == "up":
            out.add(ident)
    return out


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script that is not on sys.path (the chart's and the dashboard's generators)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
