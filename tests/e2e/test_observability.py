"""A real Prometheus scrapes the running stack; every dashboard and alert expression has data.

This is what proves the operators' view works: no panel or alert names a metric that nobody
exports, and no expression has a typo Prometheus would only reveal in production.
"""

import importlib.util
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import yaml

from devtools.stack import DEV_SECRET, LocalStack
from tests.fixtures.kafka_fixture import wait_for
from tests.fixtures.prometheus_fixture import OPS, RunningPrometheus, local_config

PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "le",
    "inf",
    "nan",
    "e",
}


def dashboard_expressions() -> list[str]:
    path = OPS / "grafana" / "build_dashboard.py"
    spec = importlib.util.spec_from_file_location("build_dashboard", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.expressions())


def alert_expressions() -> dict[str, str]:
    groups = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions or keywords."""
    text = re.sub(r'"[^"]*"', "", expression)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text))
    return {n for n in names if n.lower() not in PROMQL_WORDS}


@pytest.fixture(scope="module")
def prometheus(stack: LocalStack) -> Iterator[RunningPrometheus]:
    ports = stack.ports
    running = RunningPrometheus(
        local_config(
            {
                "ingest": f"127.0.0.1:{ports.ingest_internal}",
                "streams": f"127.0.0.1:{ports.streams_web}",
                "sink": f"127.0.0.1:{ports.sink_status}",
                "recommendations": f"127.0.0.1:{ports.recommendations_internal}",
                "history": f"127.0.0.1:{ports.history_status}",
                "users-sink": f"127.0.0.1:{ports.users_sink_status}",
                "items-sink": f"127.0.0.1:{ports.items_sink_status}",
            }
        )
    )
    yield running
    running.stop()


def post(stack: LocalStack, body: Any, secret: str = DEV_SECRET) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude",
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def traffic(stack: LocalStack) -> None:
    """Everything an operator's panels show: good, filtered, duplicate and unusable events."""

    def event(kind: str, n: int, **props: Any) -> dict[str, Any]:
        return {
            "event_type": kind,
            "user_id": f"obs-{n % 3}",
            "session_id": 1700000000000,
            "time": 1700000000000 + n,
            "insert_id": f"obs-{kind}-{n}",
            "event_properties": {"item_id": f"obs-item-{n}", **props},
        }

    good = [event(kind, n) for n, kind in enumerate(["click", "upvote", "share", "view"] * 5)]
    assert post(stack, {"events": good}) == 200
    assert post(stack, {"events": good[:3]}) == 200  # Amplitude's retry: duplicates
    unusable = [
        event("page_view", 90),
        {"event_type": "click", "user_id": "obs-0"},
        event("scroll_impression", 91, impression=["x" * 300]),
    ]
    assert post(stack, {"events": unusable}) == 200
    # A call Personalize refuses as invalid (the emulator's fault, for this user only): the
    # sink dead-letters it.
    faults = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.emulator}/_emulator/faults",
        data=orjson.dumps(
            {"error_code": "InvalidInputException", "error_status": 400, "error_user_id": "obs-bad"}
        ),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(faults, timeout=10) as response:
        assert response.status == 200
    refused = {**event("click", 92), "user_id": "obs-bad", "insert_id": "obs-refused"}
    assert post(stack, {"events": [refused]}) == 200
    assert post(stack, {"events": good[:1]}, secret="wrong") == 401
    # A miss, then a hit: for a user of no events above, whose interactions would invalidate
    # the cached answer between the two (a race the panel's data depended on).
    for _ in range(2):
        url = f"http://127.0.0.1:{stack.ports.recommendations}/recommendations/obs-quiet"
        bearer = {"Authorization": f"Bearer {stack.api_token}"}
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=bearer), timeout=10
        ) as response:
            assert response.status == 200


def test_all_targets_are_scraped(prometheus: RunningPrometheus) -> None:
    def healthy() -> bool:
        targets = prometheus.api("targets")["activeTargets"]
        return len(targets) == 7 and all(t["health"] == "up" for t in targets)

    wait_for(healthy, 30, "every target up")


@pytest.mark.parametrize("expression", dashboard_expressions())
def test_dashboard_expression_returns_data(
    expression: str, prometheus: RunningPrometheus, stack: LocalStack, traffic_sent: None
) -> None:
    wait_for(lambda: prometheus.query(expression), 60, f"data for {expression}")


@pytest.mark.parametrize(("alert", "expression"), sorted(alert_expressions().items()))
def test_alert_expression_evaluates_and_its_metrics_exist(
    alert: str, expression: str, prometheus: RunningPrometheus, traffic_sent: None
) -> None:
    prometheus.query(expression)  # evaluates without error (an empty answer: not firing)
    for name in sorted(metric_names(expression)):
        wait_for(lambda n=name: prometheus.query(f"count({n})"), 60, f"{alert}: metric {name}")


@pytest.fixture(scope="module")
def traffic_sent(stack: LocalStack, prometheus: RunningPrometheus) -> None:
    traffic(stack)


def test_metric_name_extraction() -> None:
    assert metric_names(
        'sum by (le) (rate(a_seconds_bucket{x="y"}[5m])) / on () b_total > 3 and absent(up == 1)'
    ) == {"a_seconds_bucket", "b_total", "up"}
