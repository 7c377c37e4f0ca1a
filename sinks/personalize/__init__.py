"""The Personalize sink: interactions topic -> PutEvents, offsets committed after delivery."""

import argparse

from core.logs import configure_logging
from core.startup import Command, load_settings
from sinks.personalize.settings import SinkSettings
from sinks.personalize.sink import run


def _main(_: argparse.Namespace) -> None:
    settings = load_settings(SinkSettings, "sink")
    configure_logging("sink", settings.log_level)
    run(settings)


commands = (Command("sink", "the Personalize sink (interactions -> PutEvents)", _main),)

__all__ = ["SinkSettings", "commands", "run"]
