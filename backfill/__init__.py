"""Backfill: replay Amplitude history (Export API files or NDJSON) into the raw topic, and a
catalogue file's items onto the items topic.

History flows through the same weighting and insert-id deduplication as live traffic, so a
backfill run twice does not double the interactions; the items topic is compacted, so a
catalogue run twice leaves each item's one latest record.
"""

import argparse
import sys
from pathlib import Path

import orjson

from backfill.catalogue import DEFAULT_ID_COLUMNS as ID_COLUMNS
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


def _items_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file", required=True, type=Path, help="catalogue: .csv (with a header) or NDJSON"
    )
    parser.add_argument(
        "--id-column",
        action="append",
        help=f"column holding the item id, tried in order (default: {', '.join(ID_COLUMNS)})",
    )


def _items(args: argparse.Namespace) -> None:
    """Prints the report (JSON); exit status 1 when Kafka did not acknowledge every record."""
    from backfill.items import run_items_backfill

    settings = load_settings(BackfillSettings, "backfill-items")
    configure_logging("backfill-items", settings.log_level)
    report = run_items_backfill(settings, args.file, tuple(args.id_column or ID_COLUMNS))
    print(orjson.dumps(report).decode())
    if report.failed:
        raise SystemExit(f"{report.failed} items not acknowledged by Kafka; run it again")


commands = (
    Command(
        "backfill",
        "replay Amplitude Export files (zip of gzipped NDJSON) or NDJSON",
        _main,
        _arguments,
    ),
    Command(
        "backfill-items",
        "write a catalogue file's items (CSV or NDJSON) to the items topic",
        _items,
        _items_arguments,
    ),
)

__all__ = ["BackfillReport", "BackfillSettings", "commands", "run_backfill"]
