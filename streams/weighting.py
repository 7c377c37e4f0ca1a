"""From raw event bytes to a weighted interaction, a filtered type, or a dead letter.

Pure and synchronous: the Faust agent calls it per event, and unit tests call it directly.
Every event is read through `schemas.amplitude.normalize` (any shape Amplitude sends: HTTP API,
Export/webhook default), which is msgspec, not pydantic: this runs once per raw event.
"""

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from schemas import (
    MAX_ID_LENGTH,
    MAX_IMPRESSION_ITEMS,
    MAX_RECOMMENDATION_ID_LENGTH,
    InteractionRecord,
    InvalidEvent,
    NormalizedEvent,
    RuleSet,
    normalize,
    scoped_id,
)

IMPRESSION_PROPERTIES = ("impression", "item_ids")
RECOMMENDATION_PROPERTIES = ("recommendation_id", "recommendationId")


@dataclass(frozen=True, slots=True)
class Weighed:
    interaction: InteractionRecord
    dedup_key: bytes | None = None  # (actor, insert id): what `streams.dedup` remembers
    untimed: bool = False  # the event had no time at all: the processing time was used


@dataclass(frozen=True, slots=True)
class Filtered:
    """Not ML-relevant: counted by type, never an error."""

    event_type: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Unusable data: goes to the dead-letter topic with this reason, the bytes untouched."""

    # undecodable_json | schema_invalid | invalid_time | future_time | missing_item_id
    reason: str
    detail: str


Outcome = Weighed | Filtered | DeadLetter


class Weigher:
    def __init__(
        self, rules: RuleSet, item_id_properties: list[str], max_future_seconds: float = 86400
    ) -> None:
        """`max_future_seconds`: how far ahead of the clock an event time may be (see schemas)."""
        self._rules = rules.by_name()
        self._item_id_properties = tuple(item_id_properties)
        self._max_future_ms = int(max_future_seconds * 1000)

    def weigh(self, raw: bytes, now_ms: int | None = None) -> Outcome:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        try:
            event = normalize(raw, now_ms, self._max_future_ms)
        except InvalidEvent as exc:
            return DeadLetter(exc.reason, exc.detail)
        except UnicodeDecodeError as exc:  # msgspec's error for invalid UTF-8 in a string
            return DeadLetter("undecodable_json", f"invalid UTF-8: {exc.reason}")
        except RecursionError:  # deeper than msgspec decodes
            return DeadLetter("undecodable_json", "nested too deeply")
        rule = self._rules.get(event.event_type)
        if rule is None:
            return Filtered(event.event_type)
        props = event.event_properties
        item_id = _first_id(props, self._item_id_properties)
        if item_id is None:
            return DeadLetter(
                "missing_item_id", f"none of {list(self._item_id_properties)} in event_properties"
            )
        timestamp_ms = event.time_ms if event.time_ms is not None else now_ms
        session_id = _session_id(event, timestamp_ms)
        for name, value in (
            ("user_id", event.user_id),
            ("session_id", session_id),
            ("item_id", item_id),
        ):
            if value is not None and len(value) > MAX_ID_LENGTH:
                return DeadLetter("schema_invalid", f"{name}: longer than {MAX_ID_LENGTH}")
        recommendation_id = _first_id(props, RECOMMENDATION_PROPERTIES)
        dedup_key = event.dedup_key
        return Weighed(
            InteractionRecord(
                event_id=scoped_id(dedup_key if dedup_key is not None else raw),
                user_id=event.user_id,
                device_id=event.device_id,
                session_id=session_id,
                item_id=item_id,
                event_type=rule.event_type,
                personalize_event_type=rule.personalize_event_type,
                weight=rule.weight,
                timestamp_ms=timestamp_ms,
                impression=_impression(props),
                recommendation_id=(
                    recommendation_id[:MAX_RECOMMENDATION_ID_LENGTH] if recommendation_id else None
                ),
                insert_id=event.insert_id,
            ),
            dedup_key,
            event.time_ms is None,
        )


def _first_id(props: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = props.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _impression(props: dict[str, Any]) -> list[str]:
    for name in IMPRESSION_PROPERTIES:
        value = props.get(name)
        if isinstance(value, list):
            items = [str(v) for v in value if isinstance(v, str | int) and str(v)]
            return items[:MAX_IMPRESSION_ITEMS]
    return []


def _session_id(event: NormalizedEvent, timestamp_ms: int) -> str:
    """Amplitude's session id; outside a session (-1 or none), one session per actor per UTC day.

    An anonymous event's session id is namespaced by its device: Amplitude's session id is the
    session's start in ms, so two devices that started a session in the same millisecond would
    otherwise be one Personalize session (Personalize knows anonymous users only by sessionId).
    The fallback is derived from the event alone, so a re-delivered event lands in the same
    session and Personalize still groups an actor's sessionless events together.
    """
    if event.session_id is not None and event.session_id > 0:
        if event.user_id:
            return str(event.session_id)
        return f"{_device_namespace(event.device_id or '')}:{event.session_id}"
    day = time.strftime("%Y%m%d", time.gmtime(timestamp_ms // 1000))
    return f"{event.actor}:{day}"


def _device_namespace(device_id: str) -> str:
    """The device id, or its digest when the session id would pass Personalize's 256 chars."""
    if len(device_id) <= MAX_ID_LENGTH - 21:  # ":" and a session id of up to 20 digits
        return device_id
    return hashlib.blake2b(device_id.encode(), digest_size=16).hexdigest()
