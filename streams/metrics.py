"""The stream stage's Prometheus metrics, all defined here (Faust's own sensors add theirs)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("streams_events_in_total", "Raw events read from the raw topic.")
EVENTS_OUT = Counter(
    "streams_interactions_out_total", "Interactions written, by event type.", ["event_type"]
)
FILTERED = Counter(
    "streams_events_filtered_total",
    "Events not in the weight table. Their event types are the sender's choice, so the label "
    'is one value, "other" (kept for dashboards that group by it).',
    ["event_type"],
)
DEAD_LETTERS = Counter("streams_dead_letters_total", "Events dead-lettered, by reason.", ["reason"])
UNEXPECTED_ERRORS = Counter(
    "streams_unexpected_errors_total",
    "Records that made the stage raise (dead-lettered as unexpected_error: a bug to look at), "
    'by exception type (builtin types by name, others as "other").',
    ["error"],
)
UNEXPECTED_ERRORS.labels(error="other")  # the series exists (at 0) before any error
LAG = Histogram(
    "streams_processing_lag_seconds",
    "Now minus the event's own time, when weighted.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)
DUPLICATES = Counter(
    "streams_duplicates_total",
    "Events dropped because their (actor, insert_id) was already emitted within the dedup window.",
)
UNTIMED = Counter(
    "streams_events_without_time_total",
    "Weighted events that carried no time at all: they were given the processing time.",
)
DEDUP_HELD = Gauge(
    "streams_dedup_insert_ids",
    "Insert ids in this worker's dedup memory: those of its partitions, within the window.",
)
USER_RECORDS_IN = Counter(
    "streams_user_records_in_total",
    "Amplitude user records (Send Users, Identify format) read from the raw topic: no "
    "interaction, their properties feed the users topic.",
)
CATALOG_RECORDS_OUT = Counter(
    "streams_catalog_records_out_total",
    "Records written to the users or items topic: a user's or item's mapped fields changed.",
    ["dataset"],
)
CATALOG_UNCHANGED = Counter(
    "streams_catalog_unchanged_total",
    "Records whose mapped user or item fields were already held: nothing written.",
    ["dataset"],
)
CATALOG_FIELDS_DROPPED = Counter(
    "streams_catalog_fields_dropped_total",
    "Values left out of a user or item record, by reason (wrong_type, too_long, out_of_range; "
    "unreadable: the record's properties could not be read at all).",
    ["dataset", "reason"],
)
