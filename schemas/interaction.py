"""A weighted interaction: the record on the interactions topic, a contract for other teams.

Compatibility rule: fields may be added (optional, with defaults); a field is never removed,
renamed or retyped without a new topic. `INTERACTION_SCHEMA_VERSION` counts additions.

Values, not shapes, changed once within version 1 (docs/amplitude-events.md, "Interactions"):
`event_id` is derived from (actor, insert id) rather than the insert id alone, an anonymous
event's `session_id` is prefixed by its device id, and `timestamp_ms` is the event's own time
for Export-format events too. Consumers reading the fields keep working.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

INTERACTION_SCHEMA_VERSION = 1
# Personalize's limit on userId, sessionId, itemId and eventId (1-256 characters); the device
# id and the insert id are held to it too (keys, the dedup memory, the session id).
MAX_ID_LENGTH = 256
# 9999-12-31T23:59:59.999Z: the last instant a datetime (and Personalize's sentAt) can hold.
MAX_TIMESTAMP_MS = 253_402_300_799_999
MAX_IMPRESSION_ITEMS = 25  # Personalize's limit on one event's impression list
MAX_RECOMMENDATION_ID_LENGTH = 40  # Personalize's limit on recommendationId


def interaction_key(record: "Interaction | Any") -> str:
    """Topic key of an interaction (of `Interaction` or its msgspec twin): its actor, the user
    id, else the device id, as for the raw event it came from (schemas/amplitude.py,
    `check_actor`), so one actor stays on one partition; the session id only for a record
    with neither, which the stream stage never writes."""
    return record.user_id or record.device_id or record.session_id  # type: ignore[no-any-return]


class Interaction(BaseModel):
    """One ML-relevant event, weighted and ready for Personalize."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = INTERACTION_SCHEMA_VERSION
    event_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description=(
            "Stable id: a digest of (user id, else device id; insert_id, else $insert_id, else "
            "uuid), else of the raw event. Re-sends share it; two users' equal insert ids do not."
        ),
    )
    user_id: str | None = Field(
        default=None,
        max_length=MAX_ID_LENGTH,
        description="Amplitude user_id; null for anonymous events.",
    )
    device_id: str | None = Field(
        default=None, max_length=MAX_ID_LENGTH, description="Amplitude device_id, when sent."
    )
    session_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description=(
            "Amplitude's session_id for a known user; `<device_id>:<session_id>` for an anonymous "
            "one (a digest stands in for a long device id); `<user or device id>:<YYYYMMDD>` "
            "outside a session."
        ),
    )
    item_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    event_type: str = Field(description="The canonical Amplitude event type (after aliases).")
    personalize_event_type: str = Field(
        description="The Personalize eventType this event is sent as (see the rules file)."
    )
    weight: float = Field(description="The rule's weight; sent to Personalize as eventValue.")
    timestamp_ms: int = Field(
        ge=0,
        le=MAX_TIMESTAMP_MS,
        description=(
            "The event's own time, ms since the epoch, 1970 to 9999 (`time`, else `event_time`, "
            "...: schemas/amplitude.py); the processing time only for an event that carried none."
        ),
    )
    impression: list[str] = Field(
        default_factory=list,
        max_length=MAX_IMPRESSION_ITEMS,
        description="Item ids shown alongside, if any.",
    )
    recommendation_id: str | None = Field(default=None, max_length=MAX_RECOMMENDATION_ID_LENGTH)
    insert_id: str | None = Field(
        default=None,
        max_length=MAX_ID_LENGTH,
        description="Amplitude's insert_id (the Export format's $insert_id), if sent.",
    )

    key = property(interaction_key)


_ID_FIELDS = ("event_id", "user_id", "device_id", "session_id", "item_id", "insert_id")


def limit_problem(record: object) -> str | None:
    """The first of `Interaction`'s limits that `record` (any object with its fields, e.g. the
    stream stage's msgspec twin) breaks, as "field: why"; None when it keeps them all.

    Producers check it before writing: msgspec and pydantic enforce limits only on decoding."""
    try:  # the common case in one expression (the stream stage runs this once per event)
        if (
            0 <= record.timestamp_ms <= MAX_TIMESTAMP_MS  # type: ignore[attr-defined]
            and 0 < len(record.event_id) <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and 0 < len(record.session_id) <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and 0 < len(record.item_id) <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and len(record.user_id or "") <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and len(record.device_id or "") <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and len(record.insert_id or "") <= MAX_ID_LENGTH  # type: ignore[attr-defined]
            and not record.impression  # type: ignore[attr-defined]
            and type(record.timestamp_ms) is int  # type: ignore[attr-defined]
        ):
            return None
    except TypeError:
        pass  # a wrong type somewhere: the checks below name it
    for name in _ID_FIELDS:
        value = getattr(record, name)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name}: not a string ({type(value).__name__})"
        if len(value) > MAX_ID_LENGTH:
            return f"{name}: longer than {MAX_ID_LENGTH} characters ({len(value)})"
    for name in ("event_id", "session_id", "item_id"):
        if not getattr(record, name):
            return f"{name}: empty"
    timestamp_ms = record.timestamp_ms
    if not isinstance(timestamp_ms, int) or not 0 <= timestamp_ms <= MAX_TIMESTAMP_MS:
        return f"timestamp_ms: outside 1970-01-01 to 9999-12-31 ({str(timestamp_ms)[:40]})"
    impression = record.impression
    if len(impression) > MAX_IMPRESSION_ITEMS or not all(
        0 < len(i) <= MAX_ID_LENGTH for i in impression
    ):
        return (
            f"impression: more than {MAX_IMPRESSION_ITEMS} ids, or one empty or longer than "
            f"{MAX_ID_LENGTH}"
        )
    return None
