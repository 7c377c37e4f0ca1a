"""What every service does at start-up: a command of `pipeline`, its settings loaded or refused.

Each service package lists its commands (`commands` in its `__init__`); the CLI on top only
names the packages, so a command imports nothing but its own service.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.secret_strength import WeakSecretError

T = TypeVar("T")


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """Most services are configured by their environment alone."""


@dataclass(frozen=True)
class Command:
    """One `pipeline <name>` command: its help line, its arguments, and what runs it.

    `main` receives the parsed arguments; it loads its settings itself (`load_settings`) and
    imports its service's heavier modules only then, so that listing the commands stays cheap.
    A SystemExit it raises with a message is the refusal printed and the exit status 1."""

    name: str
    help: str
    main: Callable[[argparse.Namespace], None]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


def load_settings(settings_class: type[T], service: str) -> T:
    """The service's settings from the environment, or a refusal to start that says why."""
    from pydantic import ValidationError

    try:
        return settings_class()
    except ValidationError as exc:
        # Only the messages: pydantic's full text repeats the input, secrets included.
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))} {e['msg']}" for e in exc.errors())
        raise SystemExit(f"{service}: refusing to start: {reasons.strip()}") from None


def refusing_weak_secrets(service: str, run: Callable[[], None]) -> None:
    """Run the service; a secret too weak for production is a refusal to start, not a crash."""
    try:
        run()
    except WeakSecretError as exc:
        raise SystemExit(f"{service}: refusing to start: {exc}") from None
