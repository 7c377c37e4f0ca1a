"""The users and items sinks' Prometheus metrics, all defined here (ops/ alerts and dashboards
use these names); `kind` is "users" or "items"."""

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "catalog_sink_records_total",
    "User (item) records handled, by outcome: delivered, coalesced (replaced by a newer one of "
    "the same id before it was sent), dead_lettered, tombstone (a null value: skipped).",
    ["kind", "outcome"],
)
CALLS = Counter(
    "catalog_sink_calls_total",
    "PutUsers (PutItems) attempts, by outcome (success, retryable, invalid, fatal, unexpected) "
    'and error code (codes the sink knows, exception types, else "other").',
    ["kind", "outcome", "error_code"],
)
CALL_DURATION = Histogram(
    "catalog_sink_call_duration_seconds",
    "One PutUsers (PutItems) attempt's latency.",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS_PER_CALL = Histogram(
    "catalog_sink_records_per_call",
    "Records in one successful call.",
    ["kind"],
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
)
LAST_SUCCESS = Gauge(
    "catalog_sink_last_success_timestamp_seconds",
    "Unix time of the last successful call.",
    ["kind"],
)
PENDING = Gauge(
    "catalog_sink_pending_records",
    "Records consumed and not yet done (delivered, dead-lettered or superseded).",
    ["kind"],
)
DELIVERY_STOPPED = Gauge(
    "catalog_sink_delivery_stopped",
    "1 while a fatal error (unknown dataset, credentials) stops delivery.",
    ["kind"],
)
BACKLOG_AGE = Gauge(
    "catalog_sink_backlog_age_seconds",
    "How long the oldest record whose window ended has waited for a call (0: none waits); "
    "grows while the call rate limit (the quota) or failures hold delivery back.",
    ["kind"],
)
