"""Equal spec parts of cached jobs are held once (shared_parts.py), and sharing changes no job."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from portalis_operator.api import TranslationJob
from portalis_operator.cache import parse_job
from portalis_operator.shared_parts import SharedParts

pytestmark = pytest.mark.unit


def raw(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "portalis.dev/v1alpha1",
        "kind": "TranslationJob",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {
            "source": {"configMap": {"name": f"src-{name}"}},
            "output": {"configMap": {"name": "out"}},
            "target": {"crateName": "c"},
            **spec,
        },
    }


def test_equal_parts_are_one_object_and_different_ones_are_not() -> None:
    parts = SharedParts()
    a = parse_job(raw("a"), parts)
    b = parse_job(raw("b", capacity={"spot": "never"}), parts)
    assert a is not None
    assert b is not None
    assert a.spec.model is b.spec.model  # both defaults
    assert a.spec.output is b.spec.output  # the same output written the same way
    assert a.spec.source is not b.spec.source  # different ConfigMaps
    assert a.spec.capacity is not b.spec.capacity
    assert b.spec.capacity.spot == "never"


def test_a_part_set_explicitly_to_its_default_is_not_shared_with_an_unset_one() -> None:
    """exclude_unset dumps must read the same after sharing: the fields set are part of the key."""
    parts = SharedParts()
    a = parse_job(raw("a"), parts)
    b = parse_job(raw("b", recovery={"maxErrorRetries": 3}), parts)
    c = parse_job(raw("c", recovery={}), parts)
    assert a is not None
    assert b is not None
    assert c is not None
    assert a.spec.recovery.model_fields_set != b.spec.recovery.model_fields_set
    assert a.spec.recovery is not b.spec.recovery
    assert a.spec.recovery is c.spec.recovery


def test_sharing_changes_no_job() -> None:
    parts = SharedParts()
    for name, spec in [("a", {}), ("b", {"priority": "high", "parallelism": 3}), ("c", {})]:
        shared = parse_job(raw(name, **spec), parts)
        plain = TranslationJob.model_validate(raw(name, **spec))
        assert shared == plain
        assert shared is not None
        assert shared.model_dump(exclude_unset=True) == plain.model_dump(exclude_unset=True)


def test_a_part_no_job_holds_is_dropped() -> None:
    parts = SharedParts()
    job = parse_job(raw("a"), parts)
    assert len(parts) > 0
    del job
    gc.collect()
    assert len(parts) == 0
