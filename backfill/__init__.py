"""Backfill: replay Amplitude history (Export API files or NDJSON) into the raw topic.

History flows through the same weighting and insert-id deduplication as live traffic, so a
backfill run twice does not double the interactions.
"""

from backfill.replay import BackfillReport, run_backfill
from backfill.settings import BackfillSettings

__all__ = ["BackfillReport", "BackfillSettings", "run_backfill"]
