"""The history sink: interactions topic -> CSV files for Personalize's bulk import."""

import argparse

from core.logs import configure_logging
from core.startup import Command, load_settings
from sinks.history.settings import HistorySettings
from sinks.history.sink import run


def _main(_: argparse.Namespace) -> None:
    settings = load_settings(HistorySettings, "history")
    configure_logging("history", settings.log_level)
    run(settings)


def _import_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prefix", help="s3://bucket/prefix/ holding history CSV files")
    parser.add_argument("--mode", choices=["INCREMENTAL", "FULL"], default="INCREMENTAL")
    parser.add_argument("--job-name", help="default: history-<UTC time>")


def _import_job(args: argparse.Namespace) -> None:
    from sinks.history.import_job import ImportJobError, start_import_job

    configure_logging("import-job")
    try:
        print(start_import_job(HistorySettings(), args.prefix, args.mode, args.job_name))
    except ImportJobError as exc:
        raise SystemExit(f"import-job: {exc}") from None


commands = (
    Command("history", "the history sink (interactions -> bulk-import CSV)", _main),
    Command(
        "import-job",
        "start a Personalize dataset import job for an S3 prefix",
        _import_job,
        _import_job_arguments,
    ),
)

__all__ = ["HistorySettings", "commands", "run"]
