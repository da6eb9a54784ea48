"""Pod volumes as local directories under `<pod dir>/volumes/<name>` (or where the storage really is).

- emptyDir: a fresh directory (wiped when a new pod of the same name arrives).
- configMap / secret: their keys (or `items`) written as read-only files.
- persistentVolumeClaim: the bound PV's `hostPath.path` (or `local.path`); the claim must be Bound.
- hostPath: the path itself (created for DirectoryOrCreate).
- downwardAPI / projected (serviceAccountToken, configMap, secret, downwardAPI sources): files written.
A mount's `subPath` is a directory under the volume's, created if missing; `subPathExpr` is not supported.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portalis_dev.agent.context import AgentContext
from portalis_dev.agent.credentials import TokenWriter, write_atomic
from portalis_dev.agent.environment import Mount, field_value

READ_ONLY = 0o444


class VolumeNotReady(RuntimeError):
    """A volume cannot be set up yet (claim unbound, ConfigMap missing); the worker retries."""


async def _read(fn: Any, *args: Any) -> Any | None:
    from kubernetes_asyncio.client.exceptions import ApiException

    try:
        return await fn(*args)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _write_items(
    target: Path, data: Mapping[str, bytes], items: list[dict[str, Any]] | None, what: str, optional: bool
) -> None:
    if items:
        for item in items:
            if item["key"] not in data:
                if optional:
                    continue
                raise VolumeNotReady(f"{what}: no key {item['key']!r}")
            write_atomic(target / item["path"], data[item["key"]], READ_ONLY)
    else:
        for key, value in data.items():
            write_atomic(target / key, value, READ_ONLY)


async def _config_map(ctx: AgentContext, ns: str, name: str) -> dict[str, bytes] | None:
    cm = await _read(ctx.core.read_namespaced_config_map, name, ns)
    if cm is None:
        return None
    data = {k: v.encode() for k, v in (cm.data or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.binary_data or {}).items()})
    return data


async def _secret(ctx: AgentContext, ns: str, name: str) -> dict[str, bytes] | None:
    s = await _read(ctx.core.read_namespaced_secret, name, ns)
    if s is None:
        return None
    return {k: base64.b64decode(v) for k, v in (s.data or {}).items()}


async def _claim_path(ctx: AgentContext, ns: str, claim: str) -> Path:
    pvc = await _read(ctx.core.read_namespaced_persistent_volume_claim, claim, ns)
    if pvc is None:
        raise VolumeNotReady(f'persistentvolumeclaim "{claim}" not found')
    if pvc.status.phase != "Bound" or not pvc.spec.volume_name:
        raise VolumeNotReady(f'persistentvolumeclaim "{claim}" is not bound yet')
    pv = await _read(ctx.core.read_persistent_volume, pvc.spec.volume_name)
    if pv is None:
        raise VolumeNotReady(f'persistentvolume "{pvc.spec.volume_name}" not found')
    source = pv.spec.host_path or pv.spec.local
    if source is None:
        raise VolumeNotReady(f'persistentvolume "{pv.metadata.name}": only hostPath and local volumes work')
    path = Path(source.path)
    path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - local and quick
    return path


async def _projected(
    ctx: AgentContext, pod: Mapping[str, Any], target: Path, spec: Mapping[str, Any], tokens: TokenWriter
) -> None:
    ns = pod["metadata"]["namespace"]
    for src in spec.get("sources") or []:
        if "serviceAccountToken" in src:
            t = src["serviceAccountToken"]
            aud = (t["audience"],) if t.get("audience") else ()
            await tokens.write_token(target / t["path"], aud, int(t.get("expirationSeconds") or 0))
        elif "configMap" in src:
            ref = src["configMap"]
            data = await _config_map(ctx, ns, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                # kube-root-ca.crt is the cluster CA the agent already has.
                if ref["name"] != "kube-root-ca.crt":
                    raise VolumeNotReady(f'configmap "{ref["name"]}" not found')
                data = {"ca.crt": ctx.ca_pem}
            what = f'configmap "{ref["name"]}"'
            _write_items(target, data, ref.get("items"), what, bool(ref.get("optional")))
        elif "secret" in src:
            ref = src["secret"]
            data = await _secret(ctx, ns, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise VolumeNotReady(f'secret "{ref["name"]}" not found')
            _write_items(target, data, ref.get("items"), f'secret "{ref["name"]}"', bool(ref.get("optional")))
        elif "downwardAPI" in src:
            _downward(pod, target, src["downwardAPI"])
        else:
            raise VolumeNotReady(f"unsupported projected source {sorted(src)}")


def _downward(pod: Mapping[str, Any], target: Path, spec: Mapping[str, Any]) -> None:
    for item in spec.get("items") or []:
        if "fieldRef" not in item:
            raise VolumeNotReady(f"downwardAPI item {item['path']!r}: only fieldRef is supported")
        value = field_value(pod, item["fieldRef"]["fieldPath"])
        write_atomic(target / item["path"], value.encode(), READ_ONLY)


async def materialise(
    ctx: AgentContext, pod: Mapping[str, Any], pod_dir: Path, tokens: TokenWriter
) -> dict[str, Path]:
    """Set up every volume of the pod; returns volume name -> local directory."""
    ns = pod["metadata"]["namespace"]
    out: dict[str, Path] = {}
    for vol in pod["spec"].get("volumes") or []:
        name = vol["name"]
        local = pod_dir / "volumes" / name
        if "emptyDir" in vol:
            local.mkdir(parents=True, exist_ok=True)
        elif "configMap" in vol or "secret" in vol:
            kind = "configMap" if "configMap" in vol else "secret"
            ref = vol[kind]
            ref_name = ref["name"] if kind == "configMap" else ref["secretName"]
            fetch = _config_map if kind == "configMap" else _secret
            data = await fetch(ctx, ns, ref_name)
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir(parents=True)
            if data is None:
                if not ref.get("optional"):
                    raise VolumeNotReady(f'{kind.lower()} "{ref_name}" not found')
            else:
                what = f'{kind.lower()} "{ref_name}"'
                _write_items(local, data, ref.get("items"), what, bool(ref.get("optional")))
        elif "persistentVolumeClaim" in vol:
            local = await _claim_path(ctx, ns, vol["persistentVolumeClaim"]["claimName"])
        elif "hostPath" in vol:
            local = Path(vol["hostPath"]["path"])
            if vol["hostPath"].get("type") == "DirectoryOrCreate":
                local.mkdir(parents=True, exist_ok=True)
        elif "projected" in vol:
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir(parents=True)
            await _projected(ctx, pod, local, vol["projected"], tokens)
        elif "downwardAPI" in vol:
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir(parents=True)
            _downward(pod, local, vol["downwardAPI"])
        else:
            raise VolumeNotReady(f"volume {name!r}: unsupported type {sorted(k for k in vol if k != 'name')}")
        out[name] = local
    return out


def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, Path]) -> list[Mount]:
    """The container's volumeMounts as local directories (subPath directories created)."""
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        if vm.get("subPathExpr"):
            raise VolumeNotReady(f"volumeMount {vm['mountPath']!r}: subPathExpr is not supported")
        local = volumes[vm["name"]]
        sub = (vm.get("subPath") or "").strip("/")
        if sub:
            if ".." in Path(sub).parts:
                raise VolumeNotReady(f"volumeMount {vm['mountPath']!r}: subPath may not contain '..'")
            local = local / sub
            if not local.exists():
                local.mkdir(parents=True)
        mounts.append(Mount(vm["mountPath"], local, bool(vm.get("readOnly"))))
    return mounts
