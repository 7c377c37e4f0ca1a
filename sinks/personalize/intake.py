"""From an interactions record to a PutEvents event, or the reason it is a dead letter.

The sink's per-record path (decode, map, check Personalize's limits) in one function that
never raises: whatever a record makes it raise is that record's dead-letter reason
(`unexpected_error: <type>: <message>`), counted and logged once without data, and the poll
loop goes on. tests/unit/test_hostile_records.py drives it with hostile values.
"""

import logging
from dataclasses import dataclass
from typing import Any

from schemas import InvalidInteraction, decode_interaction
from sinks.personalize import metrics
from sinks.personalize.events import event_problems, to_event

log = logging.getLogger(__name__)

_MESSAGE_CHARS = 500


@dataclass(slots=True)
class Accepted:
    """A PutEvents event and the (user, session) it is sent for."""

    user_id: str | None
    session_id: str
    event: dict[str, Any]


@dataclass(slots=True)
class Refused:
    """Not sendable: dead-letter the record with this reason."""

    reason: str


def take(value: bytes) -> Accepted | Refused:
    """Decode, map and check one record's value; never raises."""
    try:
        try:
            interaction = decode_interaction(value)
        except InvalidInteraction as exc:
            return Refused(f"invalid_interaction: {exc}")
        event = to_event(interaction)
        user_id = interaction.user_id or None
        problems = event_problems(user_id, interaction.session_id, event)
        if problems:
            return Refused(f"put_events_limits: {'; '.join(problems)}")
        return Accepted(user_id, interaction.session_id, event)
    except Exception as exc:  # the record or a bug: never the loop's end
        return Refused(unexpected(exc))


def unexpected(exc: Exception) -> str:
    """Count and log (the type only: messages may quote data) an unexpected error; its reason."""
    name = type(exc).__name__
    label = name if type(exc).__module__ == "builtins" else "other"
    metrics.UNEXPECTED_RECORD_ERRORS.labels(error=label).inc()
    log.warning("record dead-lettered: unexpected error", extra={"error_type": name})
    try:
        message = str(exc)[:_MESSAGE_CHARS]
    except Exception:  # a message that cannot be rendered
        message = "(message not printable)"
    return f"unexpected_error: {name}: {message}"
