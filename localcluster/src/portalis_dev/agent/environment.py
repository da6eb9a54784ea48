"""A container's environment and argv as a local process sees them (pure functions over the pod).

Rules, in the order they apply:
- start from the agent's base environment (its own minus its credentials, see config.default_base_env);
- `envFrom` (configMapRef / secretRef, with prefix), then `env` in order: plain values with `$(VAR)`
  expansion, `valueFrom.fieldRef` (the downward API), `configMapKeyRef`, `secretKeyRef`;
- mount-path rewriting: a process has no mount namespace, so a value equal to a container mountPath or
  starting with `<mountPath>/` is rewritten to the local directory backing that mount (longest mount
  path wins); command and args get the same rewriting (also after a `--flag=` prefix);
- service-account variables last, so a pod cannot point them elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST_IP = "127.0.0.1"
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class EnvError(ValueError):
    """An env source cannot be resolved (missing ConfigMap key, unsupported field path)."""


@dataclass(frozen=True)
class Mount:
    mount_path: str
    local: Path
    read_only: bool = False


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The downward API: the value of `fieldRef.fieldPath` for this pod as it runs on the agent."""
    meta, spec = pod["metadata"], pod["spec"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": HOST_IP,
        "status.podIPs": HOST_IP,
        "status.hostIP": HOST_IP,
        "status.hostIPs": HOST_IP,
    }
    if path in simple:
        return str(simple[path])
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise EnvError(f"unsupported fieldRef {path!r}")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined references are replaced, `$$` escapes, others stay."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _REF.sub(sub, value)


def rewrite(value: str, mounts: Sequence[Mount]) -> str:
    """Map a container path to the local directory backing its mount (unchanged when under none)."""
    for m in sorted(mounts, key=lambda m: len(m.mount_path), reverse=True):
        base = m.mount_path.rstrip("/") or "/"
        if value == base or value == m.mount_path:
            return str(m.local)
        prefix = base if base.endswith("/") else base + "/"
        if value.startswith(prefix):
            return str(m.local / value[len(prefix) :])
    return value


def rewrite_arg(arg: str, mounts: Sequence[Mount]) -> str:
    """`rewrite` for a command-line argument, also after a `--flag=` prefix."""
    out = rewrite(arg, mounts)
    if out == arg and arg.startswith("-") and "=" in arg:
        flag, _, value = arg.partition("=")
        out = f"{flag}={rewrite(value, mounts)}"
    return out


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    base: Mapping[str, str],
    mounts: Sequence[Mount],
    config_maps: Mapping[str, Mapping[str, str] | None],
    secrets: Mapping[str, Mapping[str, str] | None],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The process environment of one container. `config_maps`/`secrets`: name -> data (None: absent)."""
    own: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, store in (("configMapRef", config_maps), ("secretRef", secrets)):
            ref = src.get(kind)
            if ref is None:
                continue
            data = store.get(ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f"{kind} {ref['name']!r} not found")
            own.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            own[name] = expand(var.get("value", ""), own)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            own[name] = field_value(pod, source["fieldRef"]["fieldPath"])
        elif "configMapKeyRef" in source or "secretKeyRef" in source:
            kind = "configMapKeyRef" if "configMapKeyRef" in source else "secretKeyRef"
            ref = source[kind]
            data = (config_maps if kind == "configMapKeyRef" else secrets).get(ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise EnvError(f"{kind} {ref['name']}/{ref['key']} not found")
            own[name] = data[ref["key"]]
        else:
            raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")
    env = dict(base)
    env["HOSTNAME"] = pod["metadata"]["name"]
    env.update({k: rewrite(v, mounts) for k, v in own.items()})
    env.update(overrides)
    return env


def referenced_objects(pod: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the containers' env reads (to fetch before `container_env`)."""
    cms: set[str] = set()
    secrets: set[str] = set()
    spec = pod["spec"]
    for c in [*(spec.get("initContainers") or []), *spec["containers"]]:
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                cms.add(src["configMapRef"]["name"])
            if "secretRef" in src:
                secrets.add(src["secretRef"]["name"])
        for var in c.get("env") or []:
            source = var.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                cms.add(source["configMapKeyRef"]["name"])
            if "secretKeyRef" in source:
                secrets.add(source["secretKeyRef"]["name"])
    return cms, secrets


def container_argv(
    container: Mapping[str, Any], env: Mapping[str, str], mounts: Sequence[Mount]
) -> list[str]:
    """`command` + `args` (no image entrypoint: no command means args alone), expanded and rewritten.

    The program itself is a host program (resolved on PATH) and is never rewritten: a host path like
    /tmp/x/.venv/bin/python must not be mapped because a volume happens to be mounted at /tmp."""
    raw = [expand(a, env) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
    if not raw:
        return raw
    return [raw[0], *(rewrite_arg(a, mounts) for a in raw[1:])]
