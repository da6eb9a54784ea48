"""NodeProvider implementations; `for_pool` picks the one a GPUPool asks for."""

from __future__ import annotations

from typing import Any

from portalis_operator import api
from portalis_operator.providers.base import (
    POOL_LABEL,
    NodeProvider,
    NotInPool,
    PoolNode,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    ScalingNotSupported,
)
from portalis_operator.providers.cluster_api import ClusterAPIProvider
from portalis_operator.providers.kwok import KwokProvider
from portalis_operator.providers.static import StaticProvider

__all__ = [
    "POOL_LABEL",
    "ClusterAPIProvider",
    "KwokProvider",
    "NodeProvider",
    "NotInPool",
    "PoolNode",
    "ProviderError",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "ScalingNotSupported",
    "StaticProvider",
    "for_pool",
]


def for_pool(pool: api.GPUPool, api_client: Any, pool_label: str = POOL_LABEL) -> NodeProvider:
    """The provider for `pool`'s spec.provider.type, on a kubernetes_asyncio ApiClient. `pool_label` is
    the node label naming a node's pool (the operator's settings.pool_label), as the snapshot reads it."""
    kind = pool.spec.provider.type
    if kind == "kwok":
        return KwokProvider(api_client, pool_label)
    if kind == "clusterAPI":
        return ClusterAPIProvider(api_client, pool_label)
    return StaticProvider(api_client)
