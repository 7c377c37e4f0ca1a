"""The msgspec mirror of `schemas.Interaction` for the hot path: the stage encodes with it.

`schemas/` (pydantic) stays the contract and the JSON Schema's source; a typed msgspec Struct
encodes several times faster than pydantic validates. Raw events are decoded by the msgspec
twin in schemas/amplitude.py. tests/unit/streams/test_records.py proves `InteractionRecord` encodes
byte for byte like `schemas.Interaction` and is accepted by it.
"""

import msgspec

from schemas import INTERACTION_SCHEMA_VERSION


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


interaction_encoder = msgspec.json.Encoder()
