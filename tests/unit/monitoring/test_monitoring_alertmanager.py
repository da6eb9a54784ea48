"""Alertmanager routing: valid config, each severity reaches its receiver, the CRD form says the same."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml
from monitoring_support import ALERTMANAGER, ALERTMANAGER_CONFIG, ROOT

from portalis_dev.toolchain import binary

pytestmark = pytest.mark.unit


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("amtool"), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_amtool_check_config() -> None:
    proc = amtool("check-config", str(ALERTMANAGER))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=PortalisOperatorDown", "severity=critical"], "pagerduty"),
        (["alertname=PortalisJobErrorBudgetBurn", "severity=critical", "long_window=1h"], "pagerduty"),
        (["alertname=PortalisSpotShareDrift", "severity=warning", "pool=dgx"], "ticket"),
        (["alertname=Watchdog", "severity=info"], "deadmansswitch"),
        (["alertname=SomethingElse", "severity=info"], "null"),
        (["alertname=NoSeverity"], "ticket"),
    ],
)
def test_route(labels: list[str], receiver: str) -> None:
    proc = amtool(
        "config",
        "routes",
        "test",
        "--config.file",
        str(ALERTMANAGER),
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == receiver


def test_pagerduty_reads_key_from_a_file_and_links_the_runbook() -> None:
    cfg = yaml.safe_load(ALERTMANAGER.read_text())
    (pd,) = next(r for r in cfg["receivers"] if r["name"] == "pagerduty")["pagerduty_configs"]
    assert pd["routing_key_file"].startswith("/etc/alertmanager/secrets/")
    assert "routing_key" not in pd
    assert "service_key" not in pd
    assert ".CommonLabels.severity" in pd["severity"]
    assert pd["links"][0]["href"] == "{{ .CommonAnnotations.runbook_url }}"
    assert pd["details"]["runbook_url"] == "{{ .CommonAnnotations.runbook_url }}"


def test_watchdog_repeats_every_minute() -> None:
    cfg = yaml.safe_load(ALERTMANAGER.read_text())
    (watchdog,) = [r for r in cfg["route"]["routes"] if r["receiver"] == "deadmansswitch"]
    assert watchdog["repeat_interval"] == "1m"


def _matcher(m: dict[str, str]) -> str:
    return f'{m["name"]} {m["matchType"]} "{m["value"]}"'


def _route(r: dict[str, Any]) -> dict[str, Any]:
    keys = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval"}
    keys["repeatInterval"] = "repeat_interval"
    out: dict[str, Any] = {"receiver": r["receiver"]}
    out |= {keys[k]: v for k, v in r.items() if k in keys}
    if "matchers" in r:
        out["matchers"] = [_matcher(m) for m in r["matchers"]]
    if "routes" in r:
        out["routes"] = [_route(c) for c in r["routes"]]
    return out


def test_alertmanagerconfig_matches_alertmanager_yml() -> None:
    plain = yaml.safe_load(ALERTMANAGER.read_text())
    crd = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert crd["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert crd["kind"] == "AlertmanagerConfig"
    spec = crd["spec"]
    assert _route(spec["route"]) == plain["route"]
    inhibit = [
        {
            "source_matchers": [_matcher(m) for m in r["sourceMatch"]],
            "target_matchers": [_matcher(m) for m in r["targetMatch"]],
            **({"equal": r["equal"]} if "equal" in r else {}),
        }
        for r in spec["inhibitRules"]
    ]
    assert inhibit == plain["inhibit_rules"]
    kinds = {r["name"]: sorted(k for k in r if k != "name") for r in spec["receivers"]}
    plain_kinds = {
        r["name"]: sorted(
            k.replace("_configs", "Configs").replace("pagerdutyConfigs", "pagerdutyConfigs")
            for k in r
            if k != "name"
        )
        for r in plain["receivers"]
    }
    assert kinds == plain_kinds
    pd_crd = next(r for r in spec["receivers"] if r["name"] == "pagerduty")["pagerdutyConfigs"][0]
    pd = next(r for r in plain["receivers"] if r["name"] == "pagerduty")["pagerduty_configs"][0]
    assert {d["key"]: d["value"] for d in pd_crd["details"]} == pd["details"]
    for key in ("severity", "class", "component", "group", "description"):
        assert pd_crd[key] == pd[key], key
    assert "routingKey" in pd_crd  # a Secret reference, never the key itself
