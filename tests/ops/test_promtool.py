"""Prometheus's own checker on our configuration: config, rules, and unit tests of every alert."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "ops" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed (apt-get install prometheus)"
    result = subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_scrape_config_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_alert_rules_are_valid() -> None:
    assert f"SUCCESS: {len(alert_names())} rules found" in promtool("check", "rules", "alerts.yml")


def test_alert_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def alert_names() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("alert", alert_names())
def test_every_alert_is_unit_tested_and_has_a_runbook(alert: str) -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert alert in tested
    runbook = (PROMETHEUS.parents[1] / "docs" / "runbook.md").read_text()
    assert f"## {alert}" in runbook
