"""Two replicas compete for the scheduling Lease on the real API server: one leads, the other takes over
only after the leader stops renewing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kubernetes_asyncio import client, config

from portalis_dev.cluster import LocalCluster
from portalis_operator.leadership import LeaseElector

pytestmark = pytest.mark.integration


def test_one_replica_leads_and_the_other_takes_over_after_expiry(
    cluster: LocalCluster, namespace: str
) -> None:
    async def scenario() -> None:
        api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
        try:
            name = f"lease-{uuid.uuid4().hex[:6]}"
            a = LeaseElector(api, namespace, name, "replica-a", duration_s=2)
            b = LeaseElector(api, namespace, name, "replica-b", duration_s=2)
            assert await a.ensure()
            assert not await b.ensure()
            assert await a.ensure()  # renewing keeps it
            assert not await b.ensure()
            lease = await client.CoordinationV1Api(api).read_namespaced_lease(name, namespace)
            assert lease.spec.holder_identity == "replica-a"
            # a stops renewing (crashed): once the lease expires, b takes over and a must follow
            deadline = asyncio.get_running_loop().time() + 10
            while not await b.ensure():
                assert asyncio.get_running_loop().time() < deadline, "b never took over the expired lease"
                await asyncio.sleep(0.2)
            assert not await a.ensure()
            lease = await client.CoordinationV1Api(api).read_namespaced_lease(name, namespace)
            assert lease.spec.holder_identity == "replica-b"
            assert lease.spec.lease_transitions == 1
        finally:
            await api.close()

    asyncio.run(scenario())
