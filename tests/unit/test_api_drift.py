"""The CRD YAML is the source of truth; fail on any drift between it and the pydantic models in api.py.

Compared at every level: the field set (by wire name), which fields are required, enums, defaults, types
(string/date-time/integer/number/boolean/array/map/object) and bounds (minimum, maximum, length, items,
pattern). CEL rules have no pydantic counterpart and are covered by the invalid-manifest tests instead.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from portalis_operator import api

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CRDS: dict[str, tuple[Path, type[BaseModel], type[BaseModel]]] = {
    "TranslationJob": (
        ROOT / "crds" / "portalis.dev_translationjobs.yaml",
        api.TranslationJobSpec,
        api.TranslationJobStatus,
    ),
    "GPUPool": (ROOT / "crds" / "portalis.dev_gpupools.yaml", api.GPUPoolSpec, api.GPUPoolStatus),
}

_BOUND_KEYS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


def load_crd(kind: str) -> dict[str, Any]:
    path = CRDS[kind][0]
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def root_schema(kind: str) -> dict[str, Any]:
    versions = load_crd(kind)["spec"]["versions"]
    assert len(versions) == 1
    schema: dict[str, Any] = versions[0]["schema"]["openAPIV3Schema"]
    return schema


# ------------------------------------------------------------------------------------------------------
# The walker


def _unwrap(annotation: Any) -> tuple[Any, list[Any], bool]:
    """Strip Optional and Annotated: (core type, Annotated metadata, was optional)."""
    metadata: list[Any] = []
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                raise AssertionError(f"unsupported union {annotation!r}")
            optional = True
            annotation = args[0]
        else:
            return annotation, metadata, optional


def _constraints(metadata: list[Any], schema_type: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    min_key, max_key = _BOUND_KEYS.get(schema_type, ("minLength", "maxLength"))
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.update(_constraints(list(item.metadata), schema_type))
        elif isinstance(item, at.Ge):
            out["minimum"] = item.ge
        elif isinstance(item, at.Le):
            out["maximum"] = item.le
        elif isinstance(item, at.MinLen):
            out[min_key] = item.min_length
        elif isinstance(item, at.MaxLen):
            out[max_key] = item.max_length
        elif getattr(item, "pattern", None) is not None:
            out["pattern"] = item.pattern
    return out


def _schema_constraints(schema: dict[str, Any]) -> dict[str, Any]:
    keys = ("minimum", "maximum", "pattern", *(k for pair in _BOUND_KEYS.values() for k in pair))
    return {k: schema[k] for k in keys if k in schema}


def _compare_type(
    schema: dict[str, Any], annotation: Any, metadata: list[Any], path: str, errs: list[str]
) -> None:
    core, more, _ = _unwrap(annotation)
    metadata = [*metadata, *more]
    stype = schema.get("type")
    want = _constraints(metadata, str(stype))
    have = _schema_constraints(schema)
    if want != have:
        errs.append(f"{path}: bounds differ: CRD {have} vs model {want}")

    origin = get_origin(core)
    if origin is Literal:
        if stype != "string" or sorted(schema.get("enum", [])) != sorted(get_args(core)):
            errs.append(f"{path}: enum differs: CRD {schema.get('enum')} vs model {get_args(core)}")
        return
    if "enum" in schema:
        errs.append(f"{path}: CRD has enum {schema['enum']} but the model type is {core!r}")
    if core is dt.datetime:
        if stype != "string" or schema.get("format") != "date-time":
            errs.append(f"{path}: model datetime needs type string, format date-time")
    elif core is str:
        if stype != "string" or schema.get("format") == "date-time":
            errs.append(f"{path}: model str vs CRD {stype}/{schema.get('format')}")
    elif core is bool:
        if stype != "boolean":
            errs.append(f"{path}: model bool vs CRD {stype}")
    elif core is int:
        if stype != "integer":
            errs.append(f"{path}: model int vs CRD {stype}")
    elif core is float:
        if stype != "number":
            errs.append(f"{path}: model float vs CRD {stype}")
    elif origin is list:
        if stype != "array":
            errs.append(f"{path}: model list vs CRD {stype}")
        else:
            (item,) = get_args(core)
            _compare_type(schema["items"], item, [], f"{path}[]", errs)
    elif origin is dict:
        key, value = get_args(core)
        if stype != "object" or key is not str or "additionalProperties" not in schema:
            errs.append(f"{path}: model dict needs an object with additionalProperties")
        else:
            _compare_type(schema["additionalProperties"], value, [], f"{path}{{}}", errs)
    elif isinstance(core, type) and issubclass(core, BaseModel):
        if stype != "object" or "properties" not in schema:
            errs.append(f"{path}: model {core.__name__} vs CRD {stype} without properties")
        else:
            compare_model(schema, core, path, errs)
    else:
        errs.append(f"{path}: unsupported model type {core!r}")


def _wire(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def compare_model(schema: dict[str, Any], model: type[BaseModel], path: str, errs: list[str]) -> None:
    props: dict[str, Any] = schema.get("properties", {})
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for missing in sorted(set(props) - set(fields)):
        errs.append(f"{path}.{missing}: in the CRD, missing from {model.__name__}")
    for extra in sorted(set(fields) - set(props)):
        errs.append(f"{path}.{extra}: in {model.__name__}, missing from the CRD")
    required = set(schema.get("required", []))
    for key in sorted(set(props) & set(fields)):
        info, sub, where = fields[key], props[key], f"{path}.{key}"
        if (key in required) != info.is_required():
            errs.append(f"{where}: required in CRD={key in required}, in model={info.is_required()}")
        if "default" in sub:
            if info.is_required():
                errs.append(f"{where}: CRD default {sub['default']!r} but the model field is required")
            else:
                actual = _wire(info.get_default(call_default_factory=True))
                core, _, _ = _unwrap(info.annotation)
                expected = sub["default"]
                if isinstance(core, type) and issubclass(core, BaseModel):
                    expected = _wire(core.model_validate(expected))
                if actual != expected:
                    errs.append(f"{where}: default CRD {expected!r} vs model {actual!r}")
        elif not info.is_required():
            default = info.get_default(call_default_factory=True)
            if default is not None:
                errs.append(f"{where}: no CRD default but the model defaults to {default!r}")
        _compare_type(sub, info.annotation, list(info.metadata), where, errs)


# ------------------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("kind", sorted(CRDS))
@pytest.mark.parametrize("part", ["spec", "status"])
def test_models_match_crd(kind: str, part: str) -> None:
    _, spec_model, status_model = CRDS[kind]
    model = spec_model if part == "spec" else status_model
    errs: list[str] = []
    compare_model(root_schema(kind)["properties"][part], model, part, errs)
    assert errs == [], "drift between the CRD and api.py:\n" + "\n".join(errs)


def test_walker_catches_drift() -> None:
    """The check itself must fail on a changed default, a new field, an enum or a bound."""
    schema = root_schema("TranslationJob")["properties"]["spec"]
    changed = yaml.safe_load(yaml.safe_dump(schema))
    changed["properties"]["parallelism"]["default"] = 2
    changed["properties"]["parallelism"]["maximum"] = 65
    changed["properties"]["priority"]["enum"].append("urgent")
    changed["properties"]["newField"] = {"type": "string"}
    changed["required"].append("priority")
    errs: list[str] = []
    compare_model(changed, api.TranslationJobSpec, "spec", errs)
    text = "\n".join(errs)
    for needle in (
        "spec.parallelism: default",
        "spec.parallelism: bounds",
        "spec.priority: enum",
        "spec.newField",
        "spec.priority: required",
    ):
        assert needle in text


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_identity(kind: str) -> None:
    crd = load_crd(kind)
    names = crd["spec"]["names"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["spec"]["group"] == api.GROUP
    assert crd["metadata"]["name"] == f"{names['plural']}.{api.GROUP}"
    assert names["kind"] == kind
    assert "portalis" in names["categories"]
    (version,) = crd["spec"]["versions"]
    assert version["name"] == api.VERSION
    assert version["subresources"] == {"status": {}}
    expected_scope = "Namespaced" if kind == "TranslationJob" else "Cluster"
    assert crd["spec"]["scope"] == expected_scope


def _walk(schema: dict[str, Any], path: str) -> typing.Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{key}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural_and_documented(kind: str) -> None:
    for path, node in _walk(root_schema(kind), ""):
        assert "type" in node, f"{path}: no type"
        assert not node.get("x-kubernetes-preserve-unknown-fields"), f"{path}: preserves unknown fields"
        if path.count(".") >= 2 and not path.endswith(("[]", "{}")):
            assert node.get("description"), f"{path}: no description"
        for rule in node.get("x-kubernetes-validations", []):
            assert "message" in rule, f"{path}: CEL rule without message"
            # messages name the field they are about
            assert "spec." in rule["message"] or "metadata." in rule["message"], rule
        if node.get("type") == "array" and path.startswith(".spec"):
            assert "maxItems" in node, f"{path}: unbounded list (CEL cost)"


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_printer_columns_point_into_the_schema(kind: str) -> None:
    (version,) = load_crd(kind)["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    for column in version["additionalPrinterColumns"]:
        parts = column["jsonPath"].lstrip(".").split(".")
        if parts[0] == "metadata":
            continue
        node = schema
        for part in parts:
            node = node["properties"][part]
        assert node["type"] == column["type"], column


def test_capacity_label_values_match_worker_status_enum() -> None:
    status = root_schema("TranslationJob")["properties"]["status"]
    enum = status["properties"]["workers"]["items"]["properties"]["capacityType"]["enum"]
    assert sorted(enum) == sorted(get_args(api.CapacityTypeName)) == ["on-demand", "spot"]


def test_minimal_job_gets_crd_defaults() -> None:
    spec = api.TranslationJobSpec.model_validate(
        {
            "source": {"git": {"url": "https://example.com/r.git"}},
            "output": {"configMap": {"name": "o"}},
            "target": {"crateName": "demo"},
        }
    )
    wire = spec.to_wire()
    assert wire["priority"] == "normal"
    assert wire["checkpoint"] == {"interval": "30s"}
    assert wire["source"]["include"] == ["**/*.py"]
    assert spec.checkpoint.interval_seconds == 30
    assert api.Checkpoint(interval="5m").interval_seconds == 300
    assert api.Checkpoint(interval="2h").interval_seconds == 7200
    assert "spot" not in wire["capacity"]
