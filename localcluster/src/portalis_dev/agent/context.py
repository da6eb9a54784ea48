"""What every pod worker shares: the API client, the settings and where the API server is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalis_dev.agent.config import AgentConfig


@dataclass(frozen=True)
class AgentContext:
    core: Any
    """kubernetes_asyncio CoreV1Api."""
    config: AgentConfig
    api_host: str
    api_port: int
    ca_pem: bytes
    """The cluster CA, written as ca.crt next to every service-account token."""

    def pod_dir(self, namespace: str, name: str) -> Path:
        return self.config.root / "pods" / namespace / name
