"""The users and items sinks: users (items) topic -> PutUsers (PutItems), offsets after delivery.

One implementation (sink.py), two commands: `pipeline users-sink` and `pipeline items-sink`.
"""

import argparse
from collections.abc import Callable

from core.logs import configure_logging
from core.startup import Command, load_settings
from sinks.catalog import kinds
from sinks.catalog.settings import CatalogSinkSettings


def _main(kind_of: str) -> Callable[[argparse.Namespace], None]:
    def main(_: argparse.Namespace) -> None:
        from sinks.catalog.sink import run

        name = f"{kind_of}-sink"
        settings = load_settings(CatalogSinkSettings, name)
        configure_logging(name, settings.log_level)
        run(settings, kinds.users(settings) if kind_of == "users" else kinds.items(settings))

    return main


commands = (
    Command("users-sink", "the users sink (users topic -> PutUsers)", _main("users")),
    Command("items-sink", "the items sink (items topic -> PutItems)", _main("items")),
)

__all__ = ["CatalogSinkSettings", "commands"]
