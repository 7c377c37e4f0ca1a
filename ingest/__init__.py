"""The webhook: authenticate, split a request into events, write each raw event to Kafka."""

import argparse

from core.logs import configure_logging
from core.startup import Command, load_settings, refusing_weak_secrets
from ingest.app import create_app, run
from ingest.settings import IngestSettings


def _main(_: argparse.Namespace) -> None:
    settings = load_settings(IngestSettings, "ingest")
    configure_logging("ingest", settings.log_level)
    refusing_weak_secrets("ingest", lambda: run(settings))


commands = (Command("ingest", "the webhook (HTTP -> raw topic)", _main),)

__all__ = ["IngestSettings", "commands", "create_app", "run"]
