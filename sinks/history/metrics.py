"""The history sink's Prometheus metrics, all defined here."""

from prometheus_client import Counter

ROWS = Counter("history_rows_written_total", "Interaction rows written to history files.")
FILES = Counter("history_files_written_total", "History files stored.")
BYTES = Counter("history_written_bytes_total", "Bytes of history files stored.")
INVALID = Counter(
    "history_invalid_records_total",
    "Records on the interactions topic that are not valid interactions (skipped).",
)
