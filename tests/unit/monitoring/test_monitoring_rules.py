"""The Prometheus rules: valid, unit-tested by promtool, and shaped as the on-call expects."""

from __future__ import annotations

import subprocess
from collections import defaultdict

import pytest
import yaml
from monitoring_support import (
    ROOT,
    RULE_TESTS,
    RULES,
    RUNBOOK_BASE,
    RUNBOOKS,
    alert_rules,
    load_rules,
    record_rules,
)

from portalis_dev.toolchain import binary

pytestmark = pytest.mark.unit

SEVERITIES = {"critical", "warning", "info"}
# Watchdog fires by design at every instant: there is no input under which it must stay silent.
ALWAYS_FIRING = {"Watchdog"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_promtool_check_rules() -> None:
    proc = _run(binary("promtool"), "check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool test files under monitoring/rules/tests"
    proc = _run(binary("promtool"), "test", "rules", *map(str, RULE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(RULE_TESTS), proc.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    firing: dict[str, int] = defaultdict(int)
    silent: dict[str, int] = defaultdict(int)
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text())
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent)[check["alertname"]] += 1
    names = {r["alert"] for r in alert_rules()}
    assert not names - set(firing), f"alerts never tested firing: {sorted(names - set(firing))}"
    missing = names - ALWAYS_FIRING - set(silent)
    assert not missing, f"alerts never tested silent: {sorted(missing)}"
    assert not (set(firing) | set(silent)) - names, "tests name alerts that do not exist"


def test_every_severity_of_an_alert_is_tested_firing() -> None:
    tested: set[tuple[str, str]] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                for exp in check.get("exp_alerts") or []:
                    tested.add((check["alertname"], exp["exp_labels"]["severity"]))
    defined = {(r["alert"], r["labels"]["severity"]) for r in alert_rules()}
    assert defined <= tested, f"untested severities: {sorted(defined - tested)}"


def test_test_files_evaluate_recording_rules_first() -> None:
    groups = [g["name"] for g in load_rules()["groups"]]
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../portalis.rules.yaml"], path.name
        assert doc.get("group_eval_order") == groups, f"{path.name}: group_eval_order must list {groups}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}")
def test_alert_has_labels_annotations_and_runbook(rule: dict) -> None:
    name = rule["alert"]
    assert rule["labels"]["severity"] in SEVERITIES
    ann = rule["annotations"]
    for key in ("summary", "description", "runbook_url"):
        assert ann.get(key, "").strip(), f"{name}: annotation {key} missing"
    assert ann["runbook_url"] == f"{RUNBOOK_BASE}{name}.md"
    assert (RUNBOOKS / f"{name}.md").is_file(), f"docs/runbooks/{name}.md missing"
    if name not in ALWAYS_FIRING and rule["labels"]["severity"] != "info":
        assert "for" in rule or "max_over_time" in rule["expr"], f"{name}: no `for:`, would flap"


def test_runbooks_have_the_sections_the_on_call_needs() -> None:
    names = {r["alert"] for r in alert_rules()}
    for name in names:
        text = (RUNBOOKS / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation"):
            assert section in text, f"{name}.md lacks {section}"
        assert "kubectl" in text or name == "Watchdog", f"{name}.md gives no kubectl command"
    extra = {p.stem for p in RUNBOOKS.glob("*.md")} - names - {"README"}
    assert not extra, f"runbooks for alerts that do not exist: {sorted(extra)}"


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule in record_rules():
        parts = rule["record"].split(":")
        assert len(parts) == 3, rule["record"]
        assert all(parts), rule["record"]


def test_burn_rate_alerts_use_both_windows() -> None:
    burn = [r for r in alert_rules() if r["alert"] == "PortalisJobErrorBudgetBurn"]
    windows = {
        (r["labels"]["long_window"], r["labels"]["short_window"], r["labels"]["severity"]) for r in burn
    }
    assert windows == {("1h", "5m", "critical"), ("6h", "30m", "warning")}
    for r in burn:
        assert f"ratio_rate{r['labels']['long_window']}" in r["expr"]
        assert f"ratio_rate{r['labels']['short_window']}" in r["expr"]
