"""Service-account credentials: bound tokens from the TokenRequest API, written and kept fresh.

For a pod whose automountServiceAccountToken is not false the agent writes `token`, `ca.crt` and
`namespace` into `<pod dir>/serviceaccount` and points PORTALIS_SERVICE_ACCOUNT_DIR at it; tokens of
projected volumes (kube-api-access-*) go where the volume says. Each token is bound to the pod (it
stops working once the pod is deleted) and rewritten at 80% of its lifetime, as the kubelet does.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalis_dev.agent.context import AgentContext

log = logging.getLogger(__name__)

DEFAULT_EXPIRATION_SECONDS = 3607  # what the API server gives kube-api-access volumes
MIN_EXPIRATION_SECONDS = 600


def automount(pod: Mapping[str, Any]) -> bool:
    return pod["spec"].get("automountServiceAccountToken") is not False


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    os.replace(tmp, path)


@dataclass(frozen=True)
class _Token:
    path: Path
    audiences: tuple[str, ...]
    expiration: int


class TokenWriter:
    """Requests pod-bound tokens for one pod and keeps the files it wrote fresh."""

    def __init__(self, ctx: AgentContext, pod: Mapping[str, Any]) -> None:
        self._ctx = ctx
        self._pod = pod
        self._tokens: list[_Token] = []

    @property
    def service_account(self) -> str:
        return str(self._pod["spec"].get("serviceAccountName") or "default")

    async def write_token(self, path: Path, audiences: tuple[str, ...] = (), expiration: int = 0) -> None:
        tok = _Token(path, audiences, max(expiration or DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS))
        await self._issue(tok)
        self._tokens.append(tok)

    async def write_dir(self, directory: Path) -> None:
        """`token`, `ca.crt`, `namespace`: the layout of /var/run/secrets/kubernetes.io/serviceaccount."""
        await self.write_token(directory / "token")
        write_atomic(directory / "ca.crt", self._ctx.ca_pem)
        write_atomic(directory / "namespace", self._pod["metadata"]["namespace"].encode())

    async def _issue(self, tok: _Token) -> None:
        meta = self._pod["metadata"]
        spec: dict[str, Any] = {
            "expirationSeconds": tok.expiration,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        }
        if tok.audiences:
            spec["audiences"] = list(tok.audiences)
        resp = await self._ctx.core.create_namespaced_service_account_token(
            self.service_account, meta["namespace"], {"spec": spec}
        )
        write_atomic(tok.path, resp.status.token.encode(), 0o600)

    async def refresh_forever(self) -> None:
        if not self._tokens:
            return
        while True:
            await asyncio.sleep(0.8 * min(t.expiration for t in self._tokens))
            for tok in self._tokens:
                try:
                    await self._issue(tok)
                except Exception as exc:  # keep the old token; retried next round
                    log.warning("refreshing %s failed: %s", tok.path, exc)
