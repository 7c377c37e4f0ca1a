"""Decode interactions records for the sink: msgspec on the hot path, pydantic for the rest.

`schemas.Interaction` (pydantic) is the contract, and validating each record with it cost the
sink ~15% of its CPU. `_Strict` states the same constraints for msgspec, strictly (no type
coercion), so whatever it accepts pydantic accepts with the same values; anything it refuses
goes to pydantic, which decides as before (it may coerce, e.g. "1.0" as a weight) and writes
the dead-letter reason. tests/unit/sinks/personalize/test_interaction_decoder.py holds the
two to that.
"""

from typing import Annotated, Literal

import msgspec
from pydantic import ValidationError

from schemas import MAX_ID_LENGTH, MAX_TIMESTAMP_MS, Interaction

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
_OptionalId = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`schemas.Interaction`'s fields, types and constraints, field for field."""

    schema_version: Literal[1] = 1
    event_id: _Id
    user_id: _OptionalId = None
    device_id: _OptionalId = None
    session_id: _Id
    item_id: _Id
    event_type: str
    personalize_event_type: str
    weight: float
    timestamp_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMESTAMP_MS)]
    impression: Annotated[list[str], msgspec.Meta(max_length=25)] = []
    recommendation_id: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    insert_id: _OptionalId = None


_decoder = msgspec.json.Decoder(_Strict)

InteractionFields = _Strict | Interaction  # both carry the same attributes


class InvalidInteraction(ValueError):
    """The record is not an interaction; the message is pydantic's first error."""


def decode_interaction(value: bytes) -> InteractionFields:
    try:
        return _decoder.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass  # (msgspec raises UnicodeDecodeError for invalid UTF-8 in a string)
    try:
        return Interaction.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidInteraction(exc.errors()[0]["msg"]) from None
