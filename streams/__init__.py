"""The stream stage: validate, filter and weight raw events into the interactions topic."""

import argparse
import sys

from core.logs import configure_logging
from core.startup import Command, load_settings
from streams.settings import StreamsSettings
from streams.weighting import DeadLetter, Filtered, Weighed, Weigher


def _main(_: argparse.Namespace) -> None:
    from streams.app import run  # Faust: imported by this command only

    settings = load_settings(StreamsSettings, "streams")
    configure_logging("streams", settings.log_level)
    sys.argv = [sys.argv[0]]  # Faust's Worker parses the command line itself
    run(settings)


commands = (Command("streams", "the Faust worker (raw -> interactions topic)", _main),)

__all__ = ["DeadLetter", "Filtered", "StreamsSettings", "Weighed", "Weigher", "commands"]
