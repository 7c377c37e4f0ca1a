"""The ingest service's Prometheus metrics, all defined here.

The ops dashboard and alerts read `ingest_requests_total{status}`, `ingest_events_total{outcome}`,
`ingest_request_duration_seconds` and `ingest_produce_errors_total`: add, never rename.
"""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("ingest_requests_total", "Webhook requests, by HTTP status.", ["status"])
EVENTS = Counter(
    "ingest_events_total",
    "Events seen in webhook bodies, by outcome (accepted, rejected, dead_lettered).",
    ["outcome"],
)
ACCEPTED = EVENTS.labels(outcome="accepted")
REJECTED = EVENTS.labels(outcome="rejected")
DEAD_LETTERED = EVENTS.labels(outcome="dead_lettered")
REQUEST_DURATION = Histogram(
    "ingest_request_duration_seconds",
    "Webhook request latency, including the wait for Kafka's acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BODY_SIZE = Histogram(
    "ingest_request_body_bytes",
    "Webhook body size as sent (before decompression), of bodies that were read.",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 10485760),
)
PRODUCE_ERRORS = Counter(
    "ingest_produce_errors_total", "Requests whose events Kafka failed to acknowledge in time."
)
IN_FLIGHT = Gauge("ingest_requests_in_flight", "Webhook requests being handled right now.")
