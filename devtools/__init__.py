"""Development tools: the local stack, the embedded Apache Kafka and the Personalize emulator.

Production images do not ship this folder (the Dockerfile's `dev` target adds it); only
`pipeline dev`, `pipeline emulator`, the tests and the benchmarks use it.
"""

import argparse

from core.logs import configure_logging
from core.startup import Command


def _emulator(_: argparse.Namespace) -> None:
    from devtools.emulator import run

    configure_logging("emulator")
    run()


def _dev(_: argparse.Namespace) -> None:
    from devtools.stack import main

    configure_logging("dev")
    main()


commands = (
    Command("emulator", "the local Personalize emulator", _emulator),
    Command("dev", "everything at once on the embedded broker (make run)", _dev),
)

__all__ = ["commands"]
