"""The pure parts of the local alerting pipeline: the Events API v2 check and the config rewrites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portalis_dev import alerting
from portalis_dev.pagerduty import validate_event


def payload(**changes: Any) -> dict[str, Any]:
    return {"summary": "s", "source": "a", "severity": "info", **changes}


def trigger(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": "0123456789abcdef0123456789abcdef",
        "event_action": "trigger",
        "dedup_key": "a1b2",
        "payload": {
            "summary": "PortalisOperatorDown: no replica",
            "source": "alertmanager",
            "severity": "critical",
            "class": "PortalisOperatorDown",
            "custom_details": {"runbook_url": "https://example.org/runbook"},
        },
        "links": [{"href": "https://example.org/runbook", "text": "Runbook"}],
        "client": "Alertmanager",
        "client_url": "http://127.0.0.1:9093",
    }
    event.update(changes)
    return event


def test_a_complete_trigger_and_its_resolve_are_valid() -> None:
    assert validate_event(trigger()) == []
    assert validate_event({"routing_key": "k", "event_action": "resolve", "dedup_key": "a1b2"}) == []


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([], "not a JSON object"),
        (trigger(routing_key=""), "routing_key"),
        (trigger(event_action="fire"), "event_action"),
        (trigger(dedup_key="x" * 256), "dedup_key"),
        ({"routing_key": "k", "event_action": "resolve"}, "dedup_key is required"),
        (trigger(payload=None), "payload is required"),
        (trigger(payload={"summary": "s", "source": "a", "severity": "page"}), "payload.severity"),
        (trigger(payload={"summary": "", "source": "a", "severity": "info"}), "payload.summary"),
        (trigger(payload={"summary": "s", "severity": "info"}), "payload.source"),
        (
            trigger(payload={"summary": "s", "source": "a", "severity": "info", "timestamp": "now"}),
            "timestamp",
        ),
        (
            trigger(payload={"summary": "s", "source": "a", "severity": "info", "custom_details": []}),
            "details",
        ),
        (trigger(links=[{"text": "Runbook"}]), "links"),
        (trigger(unknown=1), "unknown field"),
    ],
)
def test_invalid_events_are_named(event: Any, problem: str) -> None:
    assert any(problem in p for p in validate_event(event)), validate_event(event)


def test_for_overrides_change_only_for_and_fail_on_unknown_alerts() -> None:
    shipped = alerting.load_yaml(alerting.RULES)
    local = alerting.rules_with_for(shipped, {"PortalisJobQueuedTooLong": "3s"})
    pairs = [
        (a, b)
        for ga, gb in zip(shipped["groups"], local["groups"], strict=True)
        for a, b in zip(ga["rules"], gb["rules"], strict=True)
    ]
    changed = [b for a, b in pairs if a != b]
    assert [r["alert"] for r in changed] == ["PortalisJobQueuedTooLong"] * 2
    assert all({**a, "for": "3s"} == b for a, b in pairs if a in changed or b in changed)
    with pytest.raises(KeyError, match="NoSuchAlert"):
        alerting.rules_with_for(shipped, {"NoSuchAlert": "1s"})


def test_local_alertmanager_config_moves_secrets_urls_and_timings_only(tmp_path: Path) -> None:
    shipped = alerting.load_yaml(alerting.ALERTMANAGER_CONFIG)
    local = alerting.local_alertmanager_config(
        shipped,
        secrets_dir=tmp_path,
        pagerduty_url="http://127.0.0.1:1/v2/enqueue",
        webhook_urls={"ticket": "http://127.0.0.1:1/webhook/ticket"},
        timings={"group_wait": "1s", "group_interval": "2s"},
    )
    assert local["global"]["pagerduty_url"] == "http://127.0.0.1:1/v2/enqueue"
    receivers = {r["name"]: r for r in local["receivers"]}
    assert receivers["pagerduty"]["pagerduty_configs"][0]["routing_key_file"] == str(
        tmp_path / "portalis-pagerduty" / "routing-key"
    )
    assert receivers["deadmansswitch"]["webhook_configs"][0]["url_file"] == str(
        tmp_path / "portalis-deadmansswitch" / "url"
    )
    assert receivers["ticket"]["webhook_configs"][0]["url"] == "http://127.0.0.1:1/webhook/ticket"
    # Routes keep their receivers and matchers; only the timings named were replaced, where they were set.
    root, shipped_root = local["route"], shipped["route"]
    assert (root["group_wait"], root["group_interval"]) == ("1s", "2s")
    assert root["repeat_interval"] == shipped_root["repeat_interval"]
    for mine, theirs in zip(root["routes"], shipped_root["routes"], strict=True):
        assert {k: v for k, v in mine.items() if k not in ("group_wait", "group_interval")} == {
            k: v for k, v in theirs.items() if k not in ("group_wait", "group_interval")
        }
        assert set(mine) == set(theirs)
    assert local["inhibit_rules"] == shipped["inhibit_rules"]
    # The shipped pagerduty receiver fields other than the key file are untouched.
    theirs_pd = next(r for r in shipped["receivers"] if r["name"] == "pagerduty")["pagerduty_configs"][0]
    mine_pd = receivers["pagerduty"]["pagerduty_configs"][0]
    assert {k: v for k, v in mine_pd.items() if k != "routing_key_file"} == {
        k: v for k, v in theirs_pd.items() if k != "routing_key_file"
    }


def test_a_webhook_receiver_without_a_local_url_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="ticket"):
        alerting.local_alertmanager_config(
            alerting.load_yaml(alerting.ALERTMANAGER_CONFIG),
            secrets_dir=tmp_path,
            pagerduty_url="http://127.0.0.1:1/v2/enqueue",
            webhook_urls={},
        )
