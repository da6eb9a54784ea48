"""Liveness means "the process is healthy", readiness "holding the lease or standing by" (issue 13,
item 11). An API-server outage longer than the old 120 s staleness limit used to fail liveness and
restart both replicas into CrashLoopBackOff; a restart cannot fix the API server."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request

import pytest

from portalis_operator.health import HealthServer, HealthState, liveness, readiness

pytestmark = pytest.mark.unit

OUTAGE = HealthState(scheduler_running=True, role="leader", role_confirmed_age=600, last_sync_age=600)
HEALTHY = HealthState(scheduler_running=True, role="standby", role_confirmed_age=2, last_sync_age=None)


def test_an_api_server_outage_fails_readiness_not_liveness() -> None:
    assert liveness(OUTAGE).ok
    verdict = readiness(OUTAGE, max_age=120)
    assert not verdict.ok
    assert "leader" in verdict.reason


def test_a_standby_replica_is_ready_and_live() -> None:
    assert liveness(HEALTHY).ok
    assert readiness(HEALTHY, max_age=120).ok


def test_a_replica_that_never_confirmed_its_role_is_live_but_not_ready() -> None:
    fresh = HealthState(scheduler_running=True, role=None, role_confirmed_age=None, last_sync_age=None)
    assert liveness(fresh).ok
    assert not readiness(fresh, max_age=120).ok


def test_a_dead_scheduling_task_fails_liveness() -> None:
    dead = HealthState(scheduler_running=False, role="leader", role_confirmed_age=1, last_sync_age=1)
    assert not liveness(dead).ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_endpoints_during_an_outage() -> None:
    async def run() -> list[tuple[int, dict[str, object]]]:
        port = free_port()
        server = HealthServer(port, lambda: OUTAGE, ready_max_age=120)
        await server.start("127.0.0.1")
        try:
            return [await asyncio.to_thread(get, port, p) for p in ("/livez", "/healthz", "/readyz")]
        finally:
            await server.stop()

    (live, live_body), (healthz, healthz_body), (ready, ready_body) = asyncio.run(run())
    assert (live, healthz, ready) == (200, 200, 503)
    assert live_body["ok"] is True
    assert healthz_body["scheduler"] == {"running": True, "synced": True, "lastSyncAgeSeconds": 600}
    assert ready_body["ok"] is False


def test_the_operators_probes_do_not_depend_on_recent_cycles() -> None:
    import time

    from kubernetes_asyncio import client

    from portalis_operator.controller import Controller
    from portalis_operator.settings import Settings

    async def run() -> tuple[HealthState, HealthState]:
        api = client.ApiClient(client.Configuration())
        try:
            controller = Controller(Settings(), api)
            before = controller.health_state(scheduler_running=True)
            controller.confirm_role("leader")
            # The API server has been unreachable for ten minutes: no cycle, no Lease renewal since.
            controller._role_confirmed_at = controller._synced_at = time.monotonic() - 600
            return before, controller.health_state(scheduler_running=True)
        finally:
            await api.close()

    before, outage = asyncio.run(run())
    assert liveness(before).ok
    assert not readiness(before, 120).ok
    assert liveness(outage).ok
    assert not readiness(outage, 120).ok
    assert outage.role == "leader"


def test_kopfs_own_liveness_endpoint_is_not_used() -> None:
    # kopf's endpoint ran our former `scheduler` probe, which failed liveness when the last cycle was
    # older than 120 s: exactly what an API-server outage causes.
    import inspect

    from portalis_operator import handlers, main

    assert "liveness_endpoint=" not in inspect.getsource(main)
    assert not hasattr(handlers, "scheduler_probe")
