"""The msgspec twin of `schemas.Interaction`: how the hot paths encode and decode the record.

`Interaction` (pydantic) stays the contract and the JSON Schema's source; a typed msgspec
Struct encodes and decodes several times faster than pydantic validates. The stream stage
encodes `InteractionRecord`s with `interaction_encoder`; the sinks decode with
`decode_interaction`. The twin states the contract's fields, types and limits for msgspec,
strictly (no type coercion), so whatever it accepts pydantic accepts with the same values;
anything it refuses goes to pydantic, which decides as before (it may coerce, e.g. "1.0" as a
weight) and words the reason. msgspec checks the limits only when decoding: a producer checks
`limit_problem` first. tests/unit/schemas/test_interaction_codec.py holds the twin to the model.
"""

from typing import Annotated, Literal

import msgspec
from pydantic import ValidationError

from schemas.interaction import (
    INTERACTION_SCHEMA_VERSION,
    MAX_ID_LENGTH,
    MAX_IMPRESSION_ITEMS,
    MAX_RECOMMENDATION_ID_LENGTH,
    MAX_TIMESTAMP_MS,
    Interaction,
    interaction_key,
)

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
_OptionalId = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None


class InteractionRecord(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """`Interaction`, field for field and in the same order (the encoded bytes match)."""

    schema_version: Literal[1] = INTERACTION_SCHEMA_VERSION
    event_id: _Id
    user_id: _OptionalId = None
    device_id: _OptionalId = None
    session_id: _Id
    item_id: _Id
    event_type: str
    personalize_event_type: str
    weight: float
    timestamp_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMESTAMP_MS)]
    impression: Annotated[list[str], msgspec.Meta(max_length=MAX_IMPRESSION_ITEMS)] = []
    recommendation_id: (
        Annotated[str, msgspec.Meta(max_length=MAX_RECOMMENDATION_ID_LENGTH)] | None
    ) = None
    insert_id: _OptionalId = None

    key = property(interaction_key)


interaction_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(InteractionRecord)

InteractionFields = InteractionRecord | Interaction  # both carry the same attributes


class InvalidInteraction(ValueError):
    """The record is not an interaction; the message is pydantic's first error."""


def decode_interaction(value: bytes) -> InteractionFields:
    """An interactions record's value, decoded; raises `InvalidInteraction` when it is none."""
    try:
        return _decoder.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass  # (msgspec raises UnicodeDecodeError for invalid UTF-8 in a string)
    try:
        return Interaction.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidInteraction(exc.errors()[0]["msg"]) from None
