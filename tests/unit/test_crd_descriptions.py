"""Every CRD field says what it is (issue 16, item 3), and every spec field is in docs/api.md.

`kubectl explain` prints a field's `description`; a field without one explains nothing. This walks the
schemas in crds/ (the source of truth; the chart's copies are checked byte for byte in test_chart and
test_api_drift); tests/integration/test_kubectl_explain.py asks a real API server the same question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CRDS = sorted((ROOT / "crds").glob("*.yaml"))
API_DOC = ROOT / "docs" / "api.md"


def version(path: Path) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    (only,) = crd["spec"]["versions"]
    return dict(only)


def fields(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, schema) of every property, through arrays' items and maps' values."""
    for name, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        yield here, sub
        yield from fields(sub, here)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from fields(items, path)
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        yield from fields(values, path)


@pytest.mark.parametrize("crd", CRDS, ids=lambda p: p.name)
def test_every_field_and_printer_column_has_a_description(crd: Path) -> None:
    v = version(crd)
    schema = v["schema"]["openAPIV3Schema"]
    # metadata is ObjectMeta: the API server refuses anything there but name and generateName rules,
    # and explains it with ObjectMeta's own description.
    missing = [
        p for p, sub in fields(schema) if p != "metadata" and not str(sub.get("description", "")).strip()
    ]
    assert missing == [], f"{crd.name}: fields without a description: {missing}"
    columns = [c["name"] for c in v.get("additionalPrinterColumns", []) if not c.get("description")]
    assert columns == [], f"{crd.name}: printer columns without a description: {columns}"


def documented_rows() -> list[str]:
    """The first cell of every table row of docs/api.md (where fields are named)."""
    rows = []
    for line in API_DOC.read_text().splitlines():
        if line.startswith("| `"):
            rows.append(line.split(" | ")[0])
    return rows


def is_documented(path: str, rows: list[str]) -> bool:
    """`a.b.c` is documented by a row naming it, or naming `a.b` with `c` in braces or after a slash
    (the doc's `scaleUp.{step, delaySeconds}` and `` `nodes.min` / `nodes.max` `` forms)."""
    parent, _, leaf = path.rpartition(".")
    for row in rows:
        names = re.findall(r"`([^`]+)`", row)
        for name in names:
            if name == path or (name.startswith(".") and parent and f"{parent}{name}" == path):
                return True
            braces = re.fullmatch(r"(.+)\.\{(.+)\}", name)
            if (
                braces
                and braces.group(1) == parent
                and leaf in [p.strip() for p in braces.group(2).split(",")]
            ):
                return True
    return False


@pytest.mark.parametrize("crd", CRDS, ids=lambda p: p.name)
def test_every_spec_field_is_in_docs_api_md(crd: Path) -> None:
    spec = version(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rows = documented_rows()
    leaves = [p for p, sub in fields(spec) if "properties" not in sub]
    undocumented = [p for p in leaves if not is_documented(p, rows)]
    assert undocumented == [], f"{crd.name}: spec fields missing from docs/api.md: {undocumented}"
