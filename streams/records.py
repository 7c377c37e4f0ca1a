"""msgspec mirrors of the schemas for the hot path: decode raw events, encode interactions.

`schemas/` (pydantic) stays the contract and the JSON Schema's source. Validating every event
with pydantic costs ~5 us where a typed msgspec Struct costs ~1 us (shared/reference/
performance.md), so the stream stage decodes and encodes with these, and
tests/unit/test_records.py proves `InteractionRecord` encodes byte for byte like
`schemas.Interaction` and is accepted by it.
"""

from typing import Annotated, Any

import msgspec

from schemas import INTERACTION_SCHEMA_VERSION


class RawEvent(msgspec.Struct):
    """The fields of `schemas.AmplitudeEvent` the stream stage reads; the rest are skipped."""

    event_type: Annotated[str, msgspec.Meta(min_length=1)]
    user_id: str | None = None
    device_id: str | None = None
    time: int | None = None
    insert_id: str | None = None
    session_id: int | None = None
    uuid: str | None = None
    event_properties: dict[str, Any] = {}


class InteractionRecord(msgspec.Struct, kw_only=True, frozen=True):
    """`schemas.Interaction`, field for field and in the same order (the encoded bytes match)."""

    schema_version: int = INTERACTION_SCHEMA_VERSION
    event_id: str
    user_id: str | None = None
    device_id: str | None = None
    session_id: str
    item_id: str
    event_type: str
    personalize_event_type: str
    weight: float
    timestamp_ms: int
    impression: list[str] = []
    recommendation_id: str | None = None
    insert_id: str | None = None

    @property
    def key(self) -> str:
        """Topic key: the user id, else the device id, so one actor stays on one partition."""
        return self.user_id or self.device_id or self.session_id


raw_event_decoder = msgspec.json.Decoder(RawEvent, strict=False)  # "123" -> 123, as pydantic
interaction_encoder = msgspec.json.Encoder()
