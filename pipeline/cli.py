"""`pipeline <command>`: one entry point for every service and the local stack.

Each service package lists its commands (`commands`: core/startup.py's `Command`); this module
only names the package of each. A command imports its own package alone (`pipeline ingest`
never imports Faust), and `pipeline --help` imports them all to describe them.
"""

import argparse
import importlib
import sys

from core.startup import Command

# Each command and the package that provides it, in the order `pipeline --help` lists them.
COMMANDS = {
    "ingest": "ingest",
    "streams": "streams",
    "sink": "sinks.personalize",
    "users-sink": "sinks.catalog",
    "items-sink": "sinks.catalog",
    "recommendations": "recommendations",
    "history": "sinks.history",
    "import-job": "sinks.history",
    "personalize": "provision",
    "emulator": "devtools",
    "topics": "provision",
    "dev": "devtools",
    "backfill": "backfill",
    "backfill-items": "backfill",
}
# Left out of production images (Dockerfile): its commands say so rather than crash.
DEV_TOOLS = "devtools"
NO_DEV_TOOLS = (
    "needs the development tools (devtools/), which this installation leaves out, as the "
    "production image does; run it from a checkout or the image's `dev` target (Dockerfile)"
)


def command(name: str) -> Command | None:
    """The command `name` from its package; None when its package is the absent dev tools."""
    package = COMMANDS[name]
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if package == DEV_TOOLS and exc.name == DEV_TOOLS:
            return None
        raise
    (found,) = [c for c in module.commands if c.name == name]
    return found


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # Only the command asked for is imported; without one (--help, a typo) all are, to list them.
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    parser = argparse.ArgumentParser(
        prog="pipeline", description="Amplitude events to AWS Personalize, through Kafka."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    found: dict[str, Command] = {}
    for name in COMMANDS:
        if wanted not in (None, name):
            subparsers.add_parser(name)  # a choice, never described nor parsed in this run
            continue
        described = command(name)
        if described is None:
            subparsers.add_parser(name, help=f"(not installed) {NO_DEV_TOOLS}")
            continue
        described.arguments(subparsers.add_parser(name, help=described.help))
        found[name] = described
    args = parser.parse_args(argv)
    if args.command not in found:
        raise SystemExit(f"{args.command}: {NO_DEV_TOOLS}")
    found[args.command].main(args)


if __name__ == "__main__":
    main()
