"""From raw event bytes to a weighted interaction, a filtered type, or a dead letter.

Pure and synchronous: the Faust agent calls it per event, and unit tests call it directly.
Decoding is msgspec (streams/records.py), not pydantic: this runs once per raw event.
"""

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas import RuleSet
from streams.records import InteractionRecord, RawEvent, raw_event_decoder

IMPRESSION_PROPERTIES = ("impression", "item_ids")
RECOMMENDATION_PROPERTIES = ("recommendation_id", "recommendationId")
MAX_IMPRESSION_ITEMS = 25  # Personalize's limit on one event's impression list.
MAX_ID_LENGTH = 256  # Personalize's limit on userId, sessionId and itemId.
MAX_RECOMMENDATION_ID_LENGTH = 40  # Personalize's limit on recommendationId.


@dataclass(frozen=True, slots=True)
class Weighed:
    interaction: InteractionRecord


@dataclass(frozen=True, slots=True)
class Filtered:
    """Not ML-relevant: counted by type, never an error."""

    event_type: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Unusable data: goes to the dead-letter topic with this reason, the bytes untouched."""

    reason: str  # undecodable_json | schema_invalid | missing_item_id
    detail: str


Outcome = Weighed | Filtered | DeadLetter


class Weigher:
    def __init__(self, rules: RuleSet, item_id_properties: list[str]) -> None:
        self._rules = rules.by_name()
        self._item_id_properties = tuple(item_id_properties)

    def weigh(self, raw: bytes) -> Outcome:
        try:
            event = raw_event_decoder.decode(raw)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: caught first
            return DeadLetter("schema_invalid", str(exc))
        except msgspec.DecodeError as exc:
            return DeadLetter("undecodable_json", str(exc))
        except UnicodeDecodeError as exc:  # msgspec's error for invalid UTF-8 in a string
            return DeadLetter("undecodable_json", f"invalid UTF-8: {exc.reason}")
        except RecursionError:  # deeper than msgspec decodes
            return DeadLetter("undecodable_json", "nested too deeply")
        if not event.user_id and not event.device_id:
            return DeadLetter("schema_invalid", "event has neither user_id nor device_id")
        rule = self._rules.get(event.event_type)
        if rule is None:
            return Filtered(event.event_type)
        props = event.event_properties
        item_id = _first_id(props, self._item_id_properties)
        if item_id is None:
            return DeadLetter(
                "missing_item_id", f"none of {list(self._item_id_properties)} in event_properties"
            )
        timestamp_ms = event.time if event.time is not None else int(time.time() * 1000)
        session_id = _session_id(event, timestamp_ms)
        for name, value in (
            ("user_id", event.user_id),
            ("session_id", session_id),
            ("item_id", item_id),
        ):
            if value is not None and len(value) > MAX_ID_LENGTH:
                return DeadLetter("schema_invalid", f"{name}: longer than {MAX_ID_LENGTH}")
        recommendation_id = _first_id(props, RECOMMENDATION_PROPERTIES)
        return Weighed(
            InteractionRecord(
                event_id=_event_id(event, raw),
                user_id=event.user_id or None,
                device_id=event.device_id or None,
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
            )
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


def _event_id(event: RawEvent, raw: bytes) -> str:
    """Stable across re-deliveries: from insert_id, else Amplitude's uuid, else the bytes."""
    basis = event.insert_id or event.uuid
    digest = hashlib.blake2b(basis.encode() if basis else raw, digest_size=16)
    return digest.hexdigest()


def _session_id(event: RawEvent, timestamp_ms: int) -> str:
    """Amplitude's session id; outside a session (-1 or none), one session per actor per UTC day.

    The fallback is derived from the event alone, so a re-delivered event lands in the same
    session and Personalize still groups an actor's sessionless events together.
    """
    if event.session_id is not None and event.session_id > 0:
        return str(event.session_id)
    day = time.strftime("%Y%m%d", time.gmtime(timestamp_ms // 1000))
    return f"{event.user_id or event.device_id}:{day}"
