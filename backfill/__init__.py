"""Backfill: replay Amplitude history (Export API files or NDJSON) into the raw topic.

History flows through the same weighting and insert-id deduplication as live traffic, so a
backfill run twice does not double the interactions.
"""

import argparse
import sys
from pathlib import Path

import orjson

from backfill.replay import BackfillReport, run_backfill
from backfill.settings import BackfillSettings
from core.logs import configure_logging
from core.startup import Command, load_settings


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="export .zip, .gz or NDJSON files")
    parser.add_argument("--rate", type=float, help="events per second (BACKFILL_RATE)")


def _main(args: argparse.Namespace) -> None:
    """Prints the report (JSON); exit status 1 when Kafka did not acknowledge every event."""
    settings = load_settings(BackfillSettings, "backfill")
    if args.rate:
        settings = settings.model_copy(update={"backfill_rate": args.rate})
    configure_logging("backfill", settings.log_level)
    report = run_backfill(settings, args.files, progress=sys.stderr.isatty())
    print(orjson.dumps(report.__dict__).decode())
    if report.failed:
        raise SystemExit(f"{report.failed} events not acknowledged by Kafka; run it again")


commands = (
    Command(
        "backfill",
        "replay Amplitude Export files (zip of gzipped NDJSON) or NDJSON",
        _main,
        _arguments,
    ),
)

__all__ = ["BackfillReport", "BackfillSettings", "commands", "run_backfill"]
