"""Interactions as PutEvents events and requests, and the limits Personalize sets on them.

Used at put: every consumed interaction is mapped (`to_event`) and checked against
PutEvents' limits (`event_problems`, read from botocore's service model) before it is
batched, so an event that could never be accepted is dead-lettered instead of sent. The
client (client.py) sends what `put_events_request` builds from a batched call.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape

from core.service_model import validate
from schemas import InteractionFields
from sinks.personalize.batcher import Call


def to_event(interaction: InteractionFields) -> dict[str, Any]:
    """One PutEvents event: the weight as eventValue, the stable event id as eventId."""
    event: dict[str, Any] = {
        "eventId": interaction.event_id,
        "eventType": interaction.personalize_event_type,
        "eventValue": interaction.weight,
        "itemId": interaction.item_id,
        # An aware datetime: botocore serializes it without parsing (a float it would parse first).
        "sentAt": datetime.fromtimestamp(interaction.timestamp_ms / 1000, UTC),
    }
    if interaction.impression:
        event["impression"] = interaction.impression
    if interaction.recommendation_id:
        event["recommendationId"] = interaction.recommendation_id
    return event


@cache
def _shapes() -> tuple[Shape, Shape, Shape]:
    request = (
        botocore.session.get_session()
        .get_service_model("personalize-events")
        .operation_model("PutEvents")
        .input_shape
    )
    members = request.members
    return members["eventList"].member, members["userId"], members["sessionId"]


Bounds = tuple[int, int]


@cache
def _length_bounds() -> tuple[dict[str, Bounds], dict[str, tuple[Bounds, Bounds]], Bounds, Bounds]:
    """(min, max) lengths of the event's plain string and string-list members, from the model:
    the fast check every event passes through before the full walk (which explains failures)."""
    event_shape, user_shape, session_shape = _shapes()

    def bounds(shape: Shape) -> Bounds | None:
        plain = not shape.metadata.get("pattern") and not getattr(shape, "enum", None)
        if shape.type_name != "string" or not plain:
            return None
        return shape.metadata.get("min", 0), shape.metadata.get("max", 1 << 62)

    strings: dict[str, Bounds] = {}
    lists: dict[str, tuple[Bounds, Bounds]] = {}
    for name, member in event_shape.members.items():
        if (found := bounds(member)) is not None:
            strings[name] = found
        elif member.type_name == "list" and (inner := bounds(member.member)) is not None:
            lists[name] = (
                (member.metadata.get("min", 0), member.metadata.get("max", 1 << 62)),
                inner,
            )
    user, session = bounds(user_shape), bounds(session_shape)
    assert user is not None and session is not None
    return strings, lists, user, session


def _within_limits(user_id: str | None, session_id: str, event: dict[str, Any]) -> bool:
    strings, lists, user, session = _length_bounds()
    if user_id is not None and not user[0] <= len(user_id) <= user[1]:
        return False
    if not session[0] <= len(session_id) <= session[1]:
        return False
    for name, value in event.items():
        if (found := strings.get(name)) is not None:
            if not isinstance(value, str) or not found[0] <= len(value) <= found[1]:
                return False
        elif (pair := lists.get(name)) is not None:
            (low, high), (inner_low, inner_high) = pair
            if not isinstance(value, list) or not low <= len(value) <= high:
                return False
            if not all(isinstance(v, str) and inner_low <= len(v) <= inner_high for v in value):
                return False
        elif name not in ("eventValue", "sentAt"):  # typed by to_event; others: full check
            return False
    return "eventType" in event and "sentAt" in event


def event_problems(user_id: str | None, session_id: str, event: dict[str, Any]) -> list[str]:
    """Every PutEvents limit the event breaks (lengths, properties <= 1024, impression <= 25...),
    read from botocore's model: such an event can never be accepted, so it is dead-lettered."""
    if _within_limits(user_id, session_id, event):
        return []
    event_shape, user_shape, session_shape = _shapes()
    problems = validate(event_shape, {**event, "sentAt": 0.0})  # the wire form: epoch seconds
    if user_id is not None:
        problems += validate(user_shape, user_id, "userId")
    return problems + validate(session_shape, session_id, "sessionId")


def put_events_request(tracking_id: str, call: Call) -> dict[str, Any]:
    request: dict[str, Any] = {
        "trackingId": tracking_id,
        "sessionId": call.session_id,
        "eventList": [item.event for item in call.items],
    }
    if call.user_id:
        request["userId"] = call.user_id
    return request
