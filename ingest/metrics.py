"""The ingest service's Prometheus metrics, all defined here."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("ingest_requests_total", "Webhook requests, by HTTP status.", ["status"])
EVENTS = Counter(
    "ingest_events_total",
    "Events seen in webhook bodies, by outcome (accepted, rejected, dead_lettered).",
    ["outcome"],
)
REQUEST_DURATION = Histogram(
    "ingest_request_duration_seconds",
    "Webhook request latency, including the wait for Kafka's acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PRODUCE_ERRORS = Counter("ingest_produce_errors_total", "Batches Kafka failed to acknowledge.")
