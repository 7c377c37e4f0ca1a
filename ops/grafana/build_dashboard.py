"""Build ops/grafana/dashboards/pipeline.json from the panel list below.

The list is the one place the dashboard's PromQL lives: the JSON is generated from it (a test
checks the committed file is current), and the observability test runs every expression against
a real Prometheus scraping the local stack. Run: python ops/grafana/build_dashboard.py
"""

import json
from pathlib import Path
from typing import Any


def _quantile(q: float, histogram: str) -> tuple[str, str]:
    expr = f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[5m])))"
    return expr, f"p{round(q * 100)}"


# (title, unit, what it means for an operator, [(expression, legend)])
PANELS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "Events received per second by outcome",
        "ops",
        "Webhook events accepted onto the raw topic, rejected, and dead-lettered.",
        [("sum by (outcome) (rate(ingest_events_total[1m]))", "{{outcome}}")],
    ),
    (
        "Ingest requests by status",
        "reqps",
        "HTTP answers to the sender: 2xx good, 401 bad secret, 413 too big, 503 Kafka slow.",
        [("sum by (status) (rate(ingest_requests_total[1m]))", "{{status}}")],
    ),
    (
        "Ingest latency p50/p99",
        "s",
        "Time from request to answer, including Kafka's acknowledgement.",
        [
            _quantile(0.5, "ingest_request_duration_seconds"),
            _quantile(0.99, "ingest_request_duration_seconds"),
        ],
    ),
    (
        "Stream throughput",
        "ops",
        "Raw events read by the stream stage, and interactions written by event type.",
        [
            ("sum(rate(streams_events_in_total[1m]))", "in"),
            (
                "sum by (event_type) (rate(streams_interactions_out_total[1m]))",
                "out {{event_type}}",
            ),
        ],
    ),
    (
        "Filtered event types",
        "ops",
        "Events not in the weight table (expected: most of Amplitude's traffic).",
        [
            (
                "topk(10, sum by (event_type) (rate(streams_events_filtered_total[5m])))",
                "{{event_type}}",
            )
        ],
    ),
    (
        "Dead letters by reason",
        "ops",
        "Events the stream stage or the sink could not use, by reason (see the runbook).",
        [
            ("sum by (reason) (rate(streams_dead_letters_total[5m]))", "streams {{reason}}"),
            ('sum(rate(sink_events_total{outcome="dead_lettered"}[5m]))', "sink"),
        ],
    ),
    (
        "Duplicates dropped",
        "ops",
        "Re-deliveries of an already seen insert_id (Amplitude retries, SDK resends).",
        [("sum(rate(streams_duplicates_total[5m]))", "duplicates")],
    ),
    (
        "Processing lag p50/p99",
        "s",
        "Now minus the event's own time when it is weighted: how fresh the signals are.",
        [
            _quantile(0.5, "streams_processing_lag_seconds"),
            _quantile(0.99, "streams_processing_lag_seconds"),
        ],
    ),
    (
        "Sink delivery rate",
        "ops",
        "Interactions delivered to Personalize, dead-lettered, retried.",
        [("sum by (outcome) (rate(sink_events_total[1m]))", "{{outcome}}")],
    ),
    (
        "PutEvents calls by outcome and error code",
        "reqps",
        "Throttling is retried; InvalidInput is dead-lettered; ResourceNotFound stops delivery.",
        [
            (
                "sum by (outcome, error_code) (rate(sink_put_events_calls_total[5m]))",
                "{{outcome}} {{error_code}}",
            )
        ],
    ),
    (
        "Events per PutEvents call",
        "none",
        "Average batch size (at most 10): higher means fewer calls for the same events.",
        [
            (
                "sum(rate(sink_put_events_events_per_call_sum[5m]))"
                " / sum(rate(sink_put_events_events_per_call_count[5m]))",
                "events/call",
            )
        ],
    ),
    (
        "Consumer lag per group",
        "none",
        "Messages after each group's committed offset: streams, sink, history.",
        [("sum by (consumergroup) (kafka_consumergroup_lag)", "{{consumergroup}}")],
    ),
    (
        "Time since last successful PutEvents",
        "s",
        "Grows while nothing is delivered (alert: NoSuccessfulPutEvents).",
        [("time() - max(sink_last_successful_put_events_timestamp_seconds)", "age")],
    ),
    (
        "Users and items sinks: records by outcome",
        "ops",
        "User (item) records delivered, coalesced into a newer one, dead-lettered, tombstones.",
        [
            (
                "sum by (kind, outcome) (rate(catalog_sink_records_total[5m]))",
                "{{kind}} {{outcome}}",
            )
        ],
    ),
    (
        "PutUsers / PutItems calls by outcome",
        "reqps",
        "At most 10 a second each (the quota); invalid is halved and dead-lettered, fatal stops.",
        [
            (
                "sum by (kind, outcome, error_code) (rate(catalog_sink_calls_total[1m]))",
                "{{kind}} {{outcome}} {{error_code}}",
            )
        ],
    ),
    (
        "Users and items sinks: backlog and pending",
        "s",
        "How long the oldest due record waits for a call (alert: CatalogSinkBacklog).",
        [("max by (kind) (catalog_sink_backlog_age_seconds)", "{{kind}} backlog age")],
    ),
    (
        "Records per PutUsers / PutItems call",
        "none",
        "Average records a call (at most 10): low while updates trickle in.",
        [
            (
                "sum by (kind) (rate(catalog_sink_records_per_call_sum[5m]))"
                " / sum by (kind) (rate(catalog_sink_records_per_call_count[5m]))",
                "{{kind}}",
            )
        ],
    ),
    (
        "Recommendations cache hit ratio",
        "percentunit",
        "Share of recommendation requests answered from the cache.",
        [
            (
                'sum(rate(recommendations_cache_lookups_total{result="hit"}[5m]))'
                " / sum(rate(recommendations_cache_lookups_total[5m]))",
                "hit ratio",
            )
        ],
    ),
    (
        "History rows written",
        "ops",
        "Interactions written to bulk-import CSV files for training.",
        [("sum(rate(history_rows_written_total[5m]))", "rows")],
    ),
]


def expressions() -> list[str]:
    return [expr for _, _, _, targets in PANELS for expr, _ in targets]


def dashboard() -> dict[str, Any]:
    panels = []
    for index, (title, unit, description, targets) in enumerate(PANELS):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "description": description,
                "datasource": {"type": "prometheus", "uid": "prometheus"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {
                        "refId": chr(ord("A") + n),
                        "expr": expr,
                        "legendFormat": legend,
                        "datasource": {"type": "prometheus", "uid": "prometheus"},
                    }
                    for n, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "uid": "amplitude-personalize-pipeline",
        "title": "Pipeline",
        "tags": ["pipeline", "kafka", "personalize"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    target = Path(__file__).with_name("dashboards") / "pipeline.json"
    target.write_text(render())
    print(f"wrote {target}")
