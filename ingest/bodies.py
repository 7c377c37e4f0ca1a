"""Split a webhook body into events, and the light per-event check ingest applies.

Accepted: `{"events": [...]}`, a bare array of events, a single event object, NDJSON.
"""

from typing import Any

import orjson


class BodyError(ValueError):
    """The body as a whole cannot be used; `status` is the HTTP answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split_events(body: bytes) -> list[Any]:
    """The events of a body, each a decoded JSON value (checked later, one by one)."""
    stripped = body.strip()
    if not stripped:
        raise BodyError(400, "empty body")
    try:
        decoded = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return _split_ndjson(stripped)
    if isinstance(decoded, list):
        return decoded
    if isinstance(decoded, dict):
        if "events" in decoded:
            events = decoded["events"]
            if not isinstance(events, list):
                raise BodyError(400, '"events" must be a JSON array')
            return events
        return [decoded]
    raise BodyError(400, "body must be a JSON object, an array of events, or NDJSON")


def _split_ndjson(body: bytes) -> list[Any]:
    events = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise BodyError(400, f"malformed JSON (line {number}): {exc}") from None
    return events


def check_event(event: Any) -> str | None:
    """Why this event cannot be used, or None when it can (deeper checks are the stream's)."""
    if not isinstance(event, dict):
        return "not_an_object"
    if not isinstance(event.get("event_type"), str) or not event["event_type"]:
        return "missing_event_type"
    if not _nonempty_str(event.get("user_id")) and not _nonempty_str(event.get("device_id")):
        return "missing_user_and_device_id"
    return None


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def event_key(event: dict[str, Any]) -> bytes:
    """Partition key: the user id, else the device id, so one actor stays in order."""
    return (event.get("user_id") or event["device_id"]).encode()
