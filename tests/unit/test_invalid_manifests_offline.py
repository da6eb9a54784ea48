"""Offline checks of tests/integration/invalid_manifests (the API server test applies them for real).

Each file carries `# expect: <substring of the API server's error>`; `NN-name.create.yaml` is a valid
object and `NN-name.update.yaml` the rejected change to it. Where the rule is plain OpenAPI (required,
enum, bounds, pattern, type) the pydantic models must reject the spec too; CEL rules only the server can.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from portalis_operator import api

pytestmark = pytest.mark.unit

DIR = Path(__file__).resolve().parents[1] / "integration" / "invalid_manifests"
REJECTED = sorted(p for p in DIR.glob("*.yaml") if not p.name.endswith(".create.yaml"))
SCHEMA_ERRORS = ("Required value", "Unsupported value", "in body")


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first.removeprefix("# expect: ").strip()


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def test_enough_cases() -> None:
    assert len(REJECTED) >= 15


@pytest.mark.parametrize("path", REJECTED, ids=lambda p: p.name)
def test_rejected_manifest(path: Path) -> None:
    expect = expectation(path)
    assert "spec." in expect or "metadata." in expect, "the expected error must name the field"
    doc = load(path)
    assert (doc["apiVersion"], doc["kind"]) == (api.API_VERSION, "TranslationJob")
    if path.name.endswith(".update.yaml"):
        create = path.with_name(path.name.replace(".update.yaml", ".create.yaml"))
        assert create.exists(), f"{path.name} needs {create.name}"
        before = load(create)
        assert before["metadata"] == doc["metadata"]
        assert before["spec"] != doc["spec"]
        api.TranslationJobSpec.model_validate(before["spec"])  # the create is valid
        api.TranslationJobSpec.model_validate(doc["spec"])  # only immutability rejects the update
    elif any(marker in expect for marker in SCHEMA_ERRORS):
        with pytest.raises(ValidationError):
            api.TranslationJobSpec.model_validate(doc.get("spec", {}))
