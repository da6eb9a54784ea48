"""End to end: a page from real metrics reaches PagerDuty through a real Prometheus and Alertmanager.

The parts are the real ones: Prometheus and Alertmanager built from their Go modules (`portalis-dev build
prometheus alertmanager`), the project's monitoring/rules/portalis.rules.yaml and
monitoring/alertmanager/alertmanager.yml, and the operator process exporting its /metrics. Prometheus scrapes
the operator as job `portalis-operator`, as the chart's ServiceMonitor names it. What stands in for the
cluster is what portalis_dev.alerting documents: secrets under a local directory (the routing key is a file,
as the mounted Secret is), Alertmanager's `global.pagerduty_url` pointing at a local Events API v2 receiver
(portalis_dev.pagerduty, which checks every event against the v2 format), and shorter times: 1 s scrapes and
evaluations, 1-2 s group timings, and `for: 10s` instead of 5m for PortalisOperatorDown. Its expression,
labels, annotations and the routes are the shipped ones.

The condition is real: the operator process is stopped, its scrape fails, `up` goes to 0 and
PortalisOperatorDown (severity critical) must page; the operator is started again, and the page must resolve
with the same dedup key.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import wait_for
from portalis_dev import alerting, demo
from portalis_dev.cluster import LocalCluster
from portalis_dev.pagerduty import Receiver, Request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ALERT = "PortalisOperatorDown"
RUNBOOK = "https://github.com/portalis-dgx/portalis/blob/main/docs/runbooks/PortalisOperatorDown.md"
# Ten 1 s evaluations in a row: one slow scrape on a busy machine does not page, a stopped operator does.
FOR = "10s"
TIMINGS = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pool(clients: demo.Clients, namespace: str) -> Iterator[str]:
    demo.apply_pool(clients, demo.pool_manifest(namespace))
    yield namespace
    with contextlib.suppress(Exception):
        clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)


def _is_page(action: str, dedup_key: str | None = None) -> Any:
    def match(r: Request) -> bool:
        body = r.body if isinstance(r.body, dict) else {}
        payload = body.get("payload") or {}
        return (
            r.is_event
            and body.get("event_action") == action
            and (dedup_key is None or body.get("dedup_key") == dedup_key)
            and (action != "trigger" or payload.get("class") == ALERT)
        )

    return match


def test_operator_down_pages_pagerduty_and_resolves(
    cluster: LocalCluster, clients: demo.Clients, crds: list[str], namespace: str, pool: str, tmp_path: Path
) -> None:
    state = cluster.state_dir
    operator = f"operator-{namespace}"
    metrics_port = _free_port()
    metrics_env = {"PORTALIS_OPERATOR_METRICS_PORT": str(metrics_port)}

    def start_operator() -> None:
        demo.start_operator(cluster, pool, [namespace], name=operator, extra_env=metrics_env)

    routing_key = secrets.token_hex(16)  # an integration key is 32 characters
    secrets_dir = tmp_path / "secrets"
    (secrets_dir / "portalis-pagerduty").mkdir(parents=True)
    (secrets_dir / "portalis-pagerduty" / "routing-key").write_text(routing_key + "\n")

    am_name, prom_name = f"alertmanager-{namespace}", f"prometheus-{namespace}"
    with Receiver() as receiver:
        (secrets_dir / "portalis-deadmansswitch").mkdir()
        (secrets_dir / "portalis-deadmansswitch" / "url").write_text(receiver.webhook_url("deadmansswitch"))
        am_config = alerting.local_alertmanager_config(
            alerting.load_yaml(alerting.ALERTMANAGER_CONFIG),
            secrets_dir=secrets_dir,
            pagerduty_url=receiver.enqueue_url,
            webhook_urls={"ticket": receiver.webhook_url("ticket")},
            timings=TIMINGS,
        )
        rules = alerting.rules_with_for(alerting.load_yaml(alerting.RULES), {ALERT: FOR})
        start_operator()
        am = alerting.start_alertmanager(state, am_config, name=am_name)
        try:
            prom = alerting.start_prometheus(
                state, rules, {"portalis-operator": [f"127.0.0.1:{metrics_port}"]}, am, name=prom_name
            )
            try:
                _page_and_resolve(prom, receiver, routing_key, cluster, operator, start_operator)
            finally:
                alerting.stop(prom, state)
        finally:
            alerting.stop(am, state)
            demo.stop_process(cluster, operator)


def _page_and_resolve(
    prom: alerting.Server,
    receiver: Receiver,
    routing_key: str,
    cluster: LocalCluster,
    operator: str,
    start_operator: Any,
) -> None:
    # Prometheus scrapes the operator's real metrics, and the rules evaluate over them.
    wait_for(lambda: alerting.query(prom, 'up{job="portalis-operator"} == 1'), timeout=60, what="a scrape")
    wait_for(
        lambda: alerting.query(prom, "priority:portalis_scheduler_queue_depth_jobs:max"),
        timeout=60,
        what="the queue-depth recording rule over the operator's metrics",
    )
    # The pipeline itself works: Watchdog reaches the dead man's switch through its Secret-file URL.
    receiver.wait_for(
        lambda r: (
            r.path.endswith("/deadmansswitch")
            and [a["labels"]["alertname"] for a in r.body["alerts"]] == ["Watchdog"]
        ),
        timeout=60,
        what="Watchdog at the dead man's switch",
    )
    wait_for(
        lambda: not [a for a in alerting.alerts(prom) if a["labels"]["alertname"] == ALERT],
        timeout=60,
        what=f"no {ALERT} while the operator is scraped",
    )
    before = len(receiver.snapshot())

    demo.stop_process(cluster, operator)
    page = receiver.wait_for(_is_page("trigger"), timeout=120, what=f"a {ALERT} page", after=before)
    assert page.problems == (), page.problems
    event = page.body
    assert event["routing_key"] == routing_key  # read from the Secret file, not written in the config
    payload = event["payload"]
    assert payload["severity"] == "critical"
    assert payload["summary"].startswith(f"{ALERT}: The Portalis operator has no running")
    assert event["dedup_key"]
    assert {"href": RUNBOOK, "text": "Runbook"} in event["links"]
    assert payload["custom_details"]["runbook_url"] == RUNBOOK
    assert (
        str(payload["custom_details"]["num_firing"]) == "1"
    )  # Alertmanager sends JSON-looking details typed
    # Only the page: the ticket webhook saw nothing of this critical alert.
    assert not [r for r in receiver.snapshot()[before:] if r.path.endswith("/ticket")]

    start_operator()
    resolve = receiver.wait_for(
        _is_page("resolve", event["dedup_key"]),
        timeout=120,
        what=f"the resolve of {ALERT}",
        after=receiver.snapshot().index(page) + 1,
    )
    assert resolve.problems == (), resolve.problems
    assert resolve.body["routing_key"] == routing_key
    invalid = [r for r in receiver.snapshot() if r.problems]
    assert not invalid, invalid
