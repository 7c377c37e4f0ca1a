"""`pipeline <command>`: one entry point for every service and the local stack."""

import argparse
import sys
from pathlib import Path
from typing import TypeVar

import orjson

T = TypeVar("T")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="pipeline", description="Amplitude events to AWS Personalize, through Kafka."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ingest", help="the webhook (HTTP -> raw topic)")
    commands.add_parser("streams", help="the Faust worker (raw -> interactions topic)")
    commands.add_parser("sink", help="the Personalize sink (interactions -> PutEvents)")
    commands.add_parser("recommendations", help="the recommendations API (GetRecommendations)")
    commands.add_parser("history", help="the history sink (interactions -> bulk-import CSV)")
    import_job = commands.add_parser(
        "import-job", help="start a Personalize dataset import job for an S3 prefix"
    )
    import_job.add_argument("prefix", help="s3://bucket/prefix/ holding history CSV files")
    import_job.add_argument("--mode", choices=["INCREMENTAL", "FULL"], default="INCREMENTAL")
    import_job.add_argument("--job-name", help="default: history-<UTC time>")
    personalize = commands.add_parser(
        "personalize", help="set Personalize up from the rules (docs/personalize.md)"
    )
    personalize.add_argument(
        "action",
        choices=["plan", "apply"],
        help="plan: print the requests (JSON); apply: create what is missing, report differences",
    )
    commands.add_parser("emulator", help="the local Personalize emulator")
    commands.add_parser("topics", help="create the pipeline's topics on KAFKA_BOOTSTRAP_SERVERS")
    commands.add_parser("dev", help="everything at once on the embedded broker (make run)")
    backfill = commands.add_parser(
        "backfill", help="replay Amplitude Export files (zip of gzipped NDJSON) or NDJSON"
    )
    backfill.add_argument("files", nargs="+", type=Path, help="export .zip, .gz or NDJSON files")
    backfill.add_argument("--rate", type=float, help="events per second (BACKFILL_RATE)")
    args = parser.parse_args(argv)

    from core.logs import configure_logging
    from core.secret_strength import WeakSecretError

    if args.command == "ingest":
        from pydantic import ValidationError

        from ingest import IngestSettings, run

        try:
            ingest_settings = IngestSettings()
        except ValidationError as exc:
            # Only the messages: pydantic's full text repeats the input, secrets included.
            reasons = "; ".join(f"{'.'.join(map(str, e['loc']))} {e['msg']}" for e in exc.errors())
            raise SystemExit(f"ingest: refusing to start: {reasons.strip()}") from None
        configure_logging("ingest", ingest_settings.log_level)
        try:
            run(ingest_settings)
        except WeakSecretError as exc:
            raise SystemExit(f"ingest: refusing to start: {exc}") from None
    elif args.command == "streams":
        from streams import StreamsSettings
        from streams.app import run as run_streams

        streams_settings = _load(StreamsSettings, "streams")
        configure_logging("streams", streams_settings.log_level)
        sys.argv = [sys.argv[0]]  # Faust's Worker parses the command line itself
        run_streams(streams_settings)
    elif args.command == "sink":
        from sinks.personalize import SinkSettings
        from sinks.personalize.sink import run as run_sink

        sink_settings = _load(SinkSettings, "sink")
        configure_logging("sink", sink_settings.log_level)
        run_sink(sink_settings)
    elif args.command == "recommendations":
        from recommendations import RecommendationsSettings
        from recommendations import run as run_recommendations

        recommendations_settings = _load(RecommendationsSettings, "recommendations")
        configure_logging("recommendations", recommendations_settings.log_level)
        try:
            run_recommendations(recommendations_settings)
        except WeakSecretError as exc:
            raise SystemExit(f"recommendations: refusing to start: {exc}") from None
    elif args.command == "history":
        from sinks.history.settings import HistorySettings
        from sinks.history.sink import run as run_history

        history_settings = _load(HistorySettings, "history")
        configure_logging("history", history_settings.log_level)
        run_history(history_settings)
    elif args.command == "import-job":
        from sinks.history.import_job import ImportJobError, start_import_job
        from sinks.history.settings import HistorySettings

        configure_logging("import-job")
        try:
            print(start_import_job(HistorySettings(), args.prefix, args.mode, args.job_name))
        except ImportJobError as exc:
            raise SystemExit(f"import-job: {exc}") from None
    elif args.command == "personalize":
        from provision.commands import run_personalize

        configure_logging("personalize")
        run_personalize(args.action)
    elif args.command == "emulator":
        from devtools.emulator import run as run_emulator

        configure_logging("emulator")
        run_emulator()
    elif args.command == "topics":
        from core.kafka import ensure_topics
        from core.settings import KafkaSettings

        configure_logging("topics")
        ensure_topics(KafkaSettings())
    elif args.command == "backfill":
        from backfill import BackfillSettings, run_backfill

        backfill_settings = _load(BackfillSettings, "backfill")
        if args.rate:
            backfill_settings = backfill_settings.model_copy(update={"backfill_rate": args.rate})
        configure_logging("backfill", backfill_settings.log_level)
        report = run_backfill(backfill_settings, args.files, progress=sys.stderr.isatty())
        print(orjson.dumps(report.__dict__).decode())
        if report.failed:
            raise SystemExit(f"{report.failed} events not acknowledged by Kafka; run it again")
    elif args.command == "dev":
        from devtools.stack import main as dev_main

        configure_logging("dev")
        dev_main()


def _load(settings_class: type[T], service: str) -> T:
    """The service's settings from the environment, or a refusal to start that says why."""
    from pydantic import ValidationError

    try:
        return settings_class()
    except ValidationError as exc:
        # Only the messages: pydantic's full text repeats the input, secrets included.
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))} {e['msg']}" for e in exc.errors())
        raise SystemExit(f"{service}: refusing to start: {reasons.strip()}") from None


if __name__ == "__main__":
    main()
