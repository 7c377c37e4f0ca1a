"""Setting up what the pipeline runs on: the Kafka topics, and Personalize from the rules (the
plan of dataset, solution and filters, and its apply)."""

import argparse

from core.logs import configure_logging
from core.startup import Command
from provision.plan import Plan, PlanError, build_plan
from provision.settings import PersonalizeSetupSettings


def _personalize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["plan", "apply"],
        help="plan: print the requests (JSON); apply: create what is missing, report differences",
    )


def _personalize(args: argparse.Namespace) -> None:
    from provision.actions import run_personalize

    configure_logging("personalize")
    run_personalize(args.action)


def _topics(_: argparse.Namespace) -> None:
    from core.kafka import ensure_topics
    from core.settings import KafkaSettings

    configure_logging("topics")
    ensure_topics(KafkaSettings())


commands = (
    Command(
        "personalize",
        "set Personalize up from the rules (docs/personalize.md)",
        _personalize,
        _personalize_arguments,
    ),
    Command("topics", "create the pipeline's topics on KAFKA_BOOTSTRAP_SERVERS", _topics),
)

__all__ = ["PersonalizeSetupSettings", "Plan", "PlanError", "build_plan", "commands"]
