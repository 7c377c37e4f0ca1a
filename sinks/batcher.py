"""Group interactions into PutEvents calls: one (user, session) per call, at most 10 events."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas import Interaction

MAX_EVENTS_PER_CALL = 10  # PutEvents eventList limit.


@dataclass(slots=True)
class Call:
    """The events of one PutEvents call, all of one user id (or none) and one session id."""

    user_id: str | None
    session_id: str
    interactions: list[Interaction] = field(default_factory=list)


def group_calls(interactions: Iterable[Interaction]) -> list[Call]:
    """Calls in first-seen order; each group keeps its events in arrival order."""
    open_calls: dict[tuple[str | None, str], Call] = {}
    calls: list[Call] = []
    for interaction in interactions:
        key = (interaction.user_id, interaction.session_id)
        call = open_calls.get(key)
        if call is None or len(call.interactions) == MAX_EVENTS_PER_CALL:
            call = Call(interaction.user_id, interaction.session_id)
            open_calls[key] = call
            calls.append(call)
        call.interactions.append(interaction)
    return calls
