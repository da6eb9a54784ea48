"""JSON merge patches (RFC 7386) computed from an old and a new document. Pure.

A merge patch of only the new values cannot remove a field or shrink a nested object; the diff sets
removed keys to null and recurses into objects, so the stored status ends up exactly equal to the new
one. Lists are replaced whole, as the RFC says.
"""

from __future__ import annotations

from typing import Any


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = merge_diff(before, value)
            if sub:
                patch[key] = sub
        elif value != before or key not in old:
            patch[key] = value
    return patch
