"""From raw event bytes to a weighted interaction, a filtered type, or a dead letter.

Pure and synchronous: the Faust agent calls it per event, and unit tests call it directly.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas import AmplitudeEvent, Interaction, RuleSet

IMPRESSION_PROPERTIES = ("impression", "item_ids")
RECOMMENDATION_PROPERTIES = ("recommendation_id", "recommendationId")
MAX_IMPRESSION_ITEMS = 25  # Personalize's limit on one event's impression list.


@dataclass(frozen=True, slots=True)
class Weighed:
    interaction: Interaction


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
        self._item_id_properties = item_id_properties

    def weigh(self, raw: bytes) -> Outcome:
        try:
            event = AmplitudeEvent.model_validate_json(raw)
        except ValidationError as exc:
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                return DeadLetter("undecodable_json", str(exc.errors()[0]["msg"]))
            return DeadLetter("schema_invalid", _summary(exc))
        rule = self._rules.get(event.event_type)
        if rule is None:
            return Filtered(event.event_type)
        props = event.event_properties
        item_id = _first_id(props, self._item_id_properties)
        if item_id is None:
            return DeadLetter(
                "missing_item_id", f"none of {self._item_id_properties} in event_properties"
            )
        timestamp_ms = event.time if event.time is not None else _now_ms()
        recommendation_id = _first_id(props, RECOMMENDATION_PROPERTIES)
        try:
            interaction = Interaction(
                event_id=_event_id(event, raw),
                user_id=event.user_id or None,
                device_id=event.device_id or None,
                session_id=_session_id(event, timestamp_ms),
                item_id=item_id,
                event_type=rule.event_type,
                personalize_event_type=rule.personalize_event_type,
                weight=rule.weight,
                timestamp_ms=timestamp_ms,
                impression=_impression(props),
                recommendation_id=recommendation_id[:40] if recommendation_id else None,
                insert_id=event.insert_id,
            )
        except ValidationError as exc:  # e.g. an id longer than Personalize accepts
            return DeadLetter("schema_invalid", _summary(exc))
        return Weighed(interaction)


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:5]
    )


def _first_id(props: dict[str, Any], names: tuple[str, ...] | list[str]) -> str | None:
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


def _event_id(event: AmplitudeEvent, raw: bytes) -> str:
    """Stable across re-deliveries: from insert_id, else Amplitude's uuid, else the bytes."""
    basis = event.insert_id or event.uuid
    digest = hashlib.blake2b(basis.encode() if basis else raw, digest_size=16)
    return digest.hexdigest()


def _session_id(event: AmplitudeEvent, timestamp_ms: int) -> str:
    """Amplitude's session id; outside a session (-1 or none), one session per actor per UTC day.

    The fallback is derived from the event alone, so a re-delivered event lands in the same
    session and Personalize still groups an actor's sessionless events together.
    """
    if event.session_id is not None and event.session_id > 0:
        return str(event.session_id)
    day = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y%m%d")
    return f"{event.actor_id}:{day}"


def _now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)
