"""The sink's Prometheus metrics, all defined here (names used by ops/ dashboards and alerts)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "sink_events_total",
    "Interactions handled, by outcome (delivered, dead_lettered, retried, dry_run, "
    "already_delivered: re-read after a restart and skipped, the delivery log lists them).",
    ["outcome"],
)
CALLS = Counter(
    "sink_put_events_calls_total",
    "PutEvents calls, by outcome (success, retryable, invalid, fatal, unexpected: retried and "
    "alerted on, dry_run) and error code (AWS codes the sink knows, exception types; any other "
    'code is "other").',
    ["outcome", "error_code"],
)
CALL_DURATION = Histogram(
    "sink_put_events_duration_seconds",
    "PutEvents call latency, botocore's retries included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_PER_CALL = Histogram(
    "sink_put_events_events_per_call",
    "Events in one PutEvents call.",
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
)
LAST_SUCCESS = Gauge(
    "sink_last_successful_put_events_timestamp_seconds",
    "Unix time of the last successful PutEvents call.",
)
IN_FLIGHT = Gauge("sink_put_events_in_flight", "PutEvents calls handed to the pool, not finished.")
PENDING = Gauge(
    "sink_pending_events", "Interactions consumed and not yet delivered or dead-lettered."
)
UNCOMMITTED = Gauge(
    "sink_uncommitted_delivered_events",
    "Interactions delivered but above the committed offset: what a crash now would re-read "
    "(and skip, as the delivery log lists them).",
)
PAUSED = Gauge(
    "sink_partitions_paused",
    "Partitions paused by back-pressure (memory full, or too much above the committed offset).",
)
DELIVERY_STOPPED = Gauge(
    "sink_delivery_stopped",
    "1 while a fatal error (unknown tracker, credentials) stops delivery; see SinkNotReady.",
)
UNEXPECTED_RECORD_ERRORS = Counter(
    "sink_unexpected_record_errors_total",
    "Interactions records that made the sink raise while decoding, mapping or checking them "
    "(dead-lettered as unexpected_error: a bug to look at), by exception type (builtin types "
    'by name, others as "other").',
    ["error"],
)
UNEXPECTED_RECORD_ERRORS.labels(error="other")  # the series exists (at 0) before any error
DELIVERY_LOG_FAILURES = Counter(
    "sink_delivery_log_failures_total",
    "Delivery-log records Kafka did not store (their calls would be re-sent after a crash).",
)
