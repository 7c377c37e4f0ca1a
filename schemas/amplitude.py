"""An Amplitude event in the shapes Amplitude and its SDKs send, and the one normaliser of them.

The raw topic holds each event byte for byte as it was sent (ingest and backfill never rewrite
it); the stream stage reads every event through `normalize`, so a live event and its backfilled
twin become the same interaction. The shapes (docs/amplitude-events.md has the details):

- HTTP API / HTTP V2 events: `insert_id`, `time` in ms since the epoch. A V2 body
  `{"api_key", "events", "options"}` is split into its events by ingest.
- The Export API format, which is also the webhook destination's default payload: `$insert_id`,
  `event_time` (a UTC string, the client's time corrected for clock skew),
  `client_event_time`, `server_received_time`, `uuid`, `amplitude_id`, ...

Time: the event's own time is always used when it has one (`time`, else `event_time`, else
`client_event_time`, else `server_received_time`: the first field present decides). A number
is read by magnitude (`epoch_ms`), a string as a UTC timestamp (`parse_time_string`); a value
that is neither, or outside the plausible window, is refused with `invalid_time`, one too far
ahead of the clock with `future_time`. Only an event with none of the fields gets the
processing time (`time_field` is None, and the stream stage counts it).

The raw-event rule is `check_actor`, written only there: an event is usable when its event type
and its user id or device id are non-empty strings, and its actor, the user id, else the device
id, is its Kafka key. Ingest and backfill apply it to what they write to the raw topic, the
stream stage (`normalize`) to what it reads.

A user record (Amplitude's "Send Users", in the Identify format) is the other kind of raw-topic
record: no event type (absent or null), a `user_properties` object, and a user or device id
(`check_user_record`). It carries a user's properties, never an interaction.

De-duplication is scoped to the actor: the key is (user id, else device id; insert id, else
`$insert_id`, else `uuid`), because an insert id is unique per device, not across users.
"""

import hashlib
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

# The plausible window for an event time, in ms since the epoch. The floor, 2001-09-09T01:46:40Z
# (1e12 ms), is where epoch milliseconds reach 13 digits: nothing Amplitude recorded is older,
# and it keeps the magnitude rule below unambiguous. The ceiling is the clock plus the stream
# stage's tolerance (STREAMS_MAX_FUTURE_SECONDS), never beyond year 9999.
MIN_TIME_MS = 1_000_000_000_000
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last instant datetime holds
TIME_FIELDS = ("time", "event_time", "client_event_time", "server_received_time")

# Magnitude rule for a numeric time: [low, high) -> (multiplier, divisor) to ms. Each range,
# read in its unit, starts at the window's floor (2001-09-09) and ends past year 5000; values
# between the ranges or outside them are no plausible time in any unit and are refused.
_MAGNITUDES = (
    (10**9, 10**11, 1000, 1),  # seconds: 10-11 digits
    (10**12, 10**14, 1, 1),  # milliseconds: 13-14 digits (Amplitude's unit)
    (10**15, 10**17, 1, 1000),  # microseconds: 16-17 digits
    (10**18, 10**20, 1, 1_000_000),  # nanoseconds: 19-20 digits
)
_MAX_TIME_TEXT = 64  # a longer time value is refused unread (no 400-digit number is parsed)
_TIME_STRING = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)


class AmplitudeEvent(BaseModel):
    """One raw-topic record, as documentation: the fields the pipeline reads, in either shape.

    Unknown fields are kept (Amplitude adds fields over time). The stream stage reads the same
    fields with `normalize`, which is what decides whether an event is usable.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_type: str = Field(min_length=1)
    user_id: str | None = None
    device_id: str | None = None
    time: int | float | str | None = Field(
        default=None, description="Event time: ms since the epoch (HTTP API), see `epoch_ms`."
    )
    event_time: str | None = Field(
        default=None, description="Export/webhook: the event's time, a UTC string."
    )
    client_event_time: str | None = Field(default=None, description="Export: the device's time.")
    server_received_time: str | None = Field(
        default=None, description="Export: when Amplitude received the event."
    )
    insert_id: str | None = Field(
        default=None, description="HTTP API's de-duplication key: same id, same event."
    )
    export_insert_id: str | None = Field(
        default=None, alias="$insert_id", description="The Export format's name for insert_id."
    )
    session_id: int | None = Field(
        default=None, description="Session start in ms since the epoch; -1 outside a session."
    )
    event_id: int | None = None
    uuid: str | None = Field(default=None, description="Export: unique per row.")
    amplitude_id: int | None = None
    event_properties: dict[str, Any] = Field(default_factory=dict)
    user_properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_actor(self) -> "AmplitudeEvent":
        if check_actor(self.event_type, self.user_id, self.device_id)[0] is None:
            raise ValueError(_NO_ACTOR)
        return self

    @property
    def actor_id(self) -> str:
        """The id the pipeline keys by: the user id, else the device id (anonymous)."""
        actor = check_actor(self.event_type, self.user_id, self.device_id)[0]
        return actor  # type: ignore[return-value]  # never None: `_has_actor` refused that


_NO_ACTOR = "event has neither user_id nor device_id"


def check_actor(event_type: Any, user_id: Any, device_id: Any) -> tuple[str | None, str | None]:
    """The raw-event rule: (actor, None) for a usable event's fields, (None, reason) otherwise.

    Usable: `event_type` is a non-empty string, and `user_id` or `device_id` is one. The actor
    (who acted) is the user id, else the device id: the raw topic's Kafka key, so one actor's
    events stay in order on one partition. A user id that is not a string is refused even
    beside a device id: the stream stage could not read the event. The reasons, ingest's and
    backfill's dead-letter reasons: missing_event_type, user_id_not_a_string,
    device_id_not_a_string, missing_user_and_device_id. Type checks only: ingest runs this once
    per event on its hot path.
    """
    if type(event_type) is not str or not event_type:
        return None, "missing_event_type"
    if type(user_id) is str and user_id:
        return user_id, None
    if user_id is not None and type(user_id) is not str:
        return None, "user_id_not_a_string"
    if type(device_id) is str and device_id:
        return device_id, None
    if device_id is not None and type(device_id) is not str:
        return None, "device_id_not_a_string"
    return None, "missing_user_and_device_id"


# What `check_user_record` passes `check_actor` as a user record's type: it has none.
USER_RECORD_TYPE = "$identify"


def check_user_record(
    event_type: Any, user_id: Any, device_id: Any, user_properties: Any
) -> tuple[str | None, str | None]:
    """The raw-topic rule for Amplitude's user records (Identify format): (actor, None) or
    (None, reason). A record without an event type is one when its `user_properties` is an
    object; otherwise it stays a bad event (missing_event_type). Called only where
    `check_actor` said missing_event_type, so events pay nothing for it."""
    if event_type is not None or type(user_properties) is not dict:
        return None, "missing_event_type"
    return check_actor(USER_RECORD_TYPE, user_id, device_id)


def check_event(event: Any) -> tuple[str | None, str | None]:
    """`check_actor` (or `check_user_record`) for a decoded record (JSON's dict);
    not_an_object for any other value."""
    if not isinstance(event, dict):
        return None, "not_an_object"
    user_id, device_id = event.get("user_id"), event.get("device_id")
    actor, reason = check_actor(event.get("event_type"), user_id, device_id)
    if reason == "missing_event_type":
        return check_user_record(
            event.get("event_type"), user_id, device_id, event.get("user_properties")
        )
    return actor, reason


class _Fields(msgspec.Struct):
    """What `normalize` decodes; msgspec skips every other field without building it.

    The time fields stay raw JSON so that an absurd value (1e400, 400 digits) is judged here,
    with its own reason, rather than failing the whole decode.
    """

    event_type: Annotated[str, msgspec.Meta(min_length=1)]
    user_id: str | None = None
    device_id: str | None = None
    time: msgspec.Raw = msgspec.Raw()
    event_time: msgspec.Raw = msgspec.Raw()
    client_event_time: msgspec.Raw = msgspec.Raw()
    server_received_time: msgspec.Raw = msgspec.Raw()
    insert_id: str | None = None
    export_insert_id: str | None = msgspec.field(default=None, name="$insert_id")
    uuid: str | None = None
    session_id: int | None = None
    event_properties: dict[str, Any] = {}


_decode_fields = msgspec.json.Decoder(_Fields, strict=False).decode  # "123" -> 123, as pydantic
_decode_value = msgspec.json.decode


class InvalidEvent(ValueError):
    """The event cannot be used: `reason` names the class (the dead-letter reason)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # undecodable_json | schema_invalid | invalid_time | future_time
        self.detail = detail


class NormalizedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event in the pipeline's terms, whatever shape it was sent in."""

    event_type: str
    user_id: str | None  # None when absent or empty
    device_id: str | None
    actor: str  # the user id, else the device id: who acted (`check_actor`)
    time_ms: int | None  # None: the event carries no time at all
    time_field: str | None  # which field the time came from
    insert_id: str | None  # `insert_id`, else `$insert_id`
    uuid: str | None
    session_id: int | None
    event_properties: dict[str, Any]

    @property
    def dedup_key(self) -> bytes | None:
        """(actor, insert id, else uuid) as one unambiguous string; None: nothing to dedup on."""
        basis = self.insert_id or self.uuid
        if not basis:
            return None
        actor = self.actor  # "u" or "d": a user id and an equal device id are two actors
        return f"{'u' if self.user_id else 'd'}{len(actor)}:{actor}{basis}".encode()


def normalize(raw: bytes, now_ms: int, max_future_ms: int) -> NormalizedEvent:
    """Read one raw event (any shape); raises `InvalidEvent` when it cannot be used.

    `now_ms` and `max_future_ms` bound the time from above: an event more than `max_future_ms`
    ahead of `now_ms` is refused as `future_time`.
    """
    try:
        fields = _decode_fields(raw)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: caught first
        raise InvalidEvent("schema_invalid", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidEvent("undecodable_json", str(exc)) from None
    # The fields' types are decoded already: what the rule can still refuse is a missing actor.
    actor = check_actor(fields.event_type, fields.user_id, fields.device_id)[0]
    if actor is None:
        raise InvalidEvent("schema_invalid", _NO_ACTOR)
    time_ms, time_field = _event_time(fields)
    if time_ms is not None and time_ms > now_ms + max_future_ms:
        raise InvalidEvent(
            "future_time",
            f"{time_field}: {time_ms} ms is more than {max_future_ms} ms ahead of the clock",
        )
    return NormalizedEvent(
        event_type=fields.event_type,
        user_id=fields.user_id or None,
        device_id=fields.device_id or None,
        actor=actor,
        time_ms=time_ms,
        time_field=time_field,
        insert_id=fields.insert_id or fields.export_insert_id or None,
        uuid=fields.uuid or None,
        session_id=fields.session_id,
        event_properties=fields.event_properties,
    )


def _event_time(fields: _Fields) -> tuple[int | None, str | None]:
    for name in TIME_FIELDS:
        text = bytes(getattr(fields, name))
        if not text or text == b"null":
            continue
        if len(text) > _MAX_TIME_TEXT:
            raise InvalidEvent("invalid_time", f"{name}: {text[:_MAX_TIME_TEXT]!r}... (too long)")
        try:
            value = _decode_value(text)
        except msgspec.DecodeError:  # e.g. 1e400: out of a double's range
            raise InvalidEvent("invalid_time", f"{name}: {text!r}") from None
        try:
            return event_time_ms(value), name
        except ValueError as exc:
            raise InvalidEvent("invalid_time", f"{name}: {exc}") from None
    return None, None


def event_time_ms(value: Any) -> int:
    """ms since the epoch for a time field's decoded value; ValueError (naming it) otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if _is_number(text):
            return epoch_ms(float(text) if "." in text or "e" in text.lower() else int(text))
        parsed = parse_time_string(text)
        if parsed is None:
            raise ValueError(f"{value!r} is not a timestamp")
        return parsed
    if isinstance(value, int | float) and not isinstance(value, bool):
        return epoch_ms(value)
    raise ValueError(f"{value!r} is not a number or a timestamp string")


def epoch_ms(value: int | float) -> int:
    """A numeric time read by magnitude (`_MAGNITUDES`): s, ms, us or ns since the epoch.

    Amplitude's HTTP API takes ms; seconds (1700000000) and microseconds are common sender
    mistakes, and reading them as ms would put the event in 1970 or past year 9999.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    for low, high, multiplier, divisor in _MAGNITUDES:
        if low <= value < high:
            ms = int(value * multiplier // divisor)  # exact for ints, floors floats
            if ms < MIN_TIME_MS or ms > MAX_TIME_MS:
                break
            return ms
    raise ValueError(f"{value!r} is no plausible time in s, ms, us or ns since the epoch")


def parse_time_string(text: str) -> int | None:
    """ms since the epoch for Amplitude's timestamp strings; None when unreadable or implausible.

    Accepted: a space or `T` between date and time, 0 to 6 fractional digits, an optional `Z`
    or offset (no offset means UTC, as Amplitude writes them).
    """
    text = text.strip()
    if not _TIME_STRING.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # e.g. month 13
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = (moment - _EPOCH) // _ONE_MS
    return ms if MIN_TIME_MS <= ms <= MAX_TIME_MS else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return bool(text) and text.lstrip("+-")[:1].isdigit()


def scoped_id(key: bytes) -> str:
    """Personalize's eventId for a de-duplication key: the same key, the same id."""
    return hashlib.blake2b(key, digest_size=16).hexdigest()
