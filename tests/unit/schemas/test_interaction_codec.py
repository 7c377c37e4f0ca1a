"""The msgspec twin says exactly what `schemas.Interaction` says: fields, bytes, limits, key.

The stream stage encodes with the twin and both sinks decode with it, so this is what holds the
interactions topic to its contract on the hot paths.
"""

from typing import Any

import msgspec
import orjson
import pytest
from pydantic import ValidationError

from schemas import (
    Interaction,
    InteractionRecord,
    InvalidInteraction,
    decode_interaction,
    interaction_encoder,
)
from schemas.interaction_codec import _decoder

VALID: dict[str, Any] = {
    "event_id": "e1",
    "user_id": "u1",
    "session_id": "s1",
    "item_id": "i1",
    "event_type": "click",
    "personalize_event_type": "click",
    "weight": 1.5,
    "timestamp_ms": 1700000000000,
}

# What the stream stage writes: every field, the optional ones both set and left out.
ENCODED: list[dict[str, Any]] = [
    {**VALID, "session_id": "1700000000000", "weight": 1.0},
    {
        "event_id": "e2",
        "device_id": "d1",
        "session_id": "d1:20231114",
        "item_id": "i2",
        "event_type": "initial_impression",
        "personalize_event_type": "impression",
        "weight": -2.5,
        "timestamp_ms": 1,
        "impression": ["a", "b"],
        "recommendation_id": "rec-1",
        "insert_id": "ins-é",
    },
]

ACCEPTED = [
    VALID,
    {**VALID, "user_id": None, "device_id": "d1", "weight": 2},  # an int weight
    {**VALID, "user_id": "", "schema_version": 1, "insert_id": "x"},
    {**VALID, "impression": ["a"] * 25, "recommendation_id": "r" * 40, "event_id": "e" * 256},
]

# Every constraint of the contract, broken once.
REFUSED = [
    {**VALID, "schema_version": 2},
    {**VALID, "event_id": ""},
    {**VALID, "event_id": "e" * 257},
    {**VALID, "user_id": "u" * 257},
    {**VALID, "session_id": ""},
    {**VALID, "item_id": None},
    {**VALID, "impression": ["a"] * 26},
    {**VALID, "impression": [1]},
    {**VALID, "recommendation_id": "r" * 41},
    {**VALID, "unknown": 1},
    {**VALID, "weight": "heavy"},
    {**VALID, "timestamp_ms": 1.5},
    {**VALID, "timestamp_ms": -1},
    {**VALID, "event_type": 3},
    {key: value for key, value in VALID.items() if key != "personalize_event_type"},
]

# What pydantic's lax mode coerces: msgspec refuses, pydantic decides (and accepts).
COERCED = [
    {**VALID, "weight": "1.5"},
    {**VALID, "timestamp_ms": 1700000000000.0},
    {**VALID, "timestamp_ms": "1700000000000"},
]


def test_fields_their_order_and_defaults_match() -> None:
    assert InteractionRecord.__struct_fields__ == tuple(Interaction.model_fields)
    for field in msgspec.structs.fields(InteractionRecord):
        contract = Interaction.model_fields[field.name]
        if contract.is_required():
            assert field.required, field.name
        elif field.default_factory is not msgspec.NODEFAULT:
            assert field.default_factory() == contract.get_default(call_default_factory=True)
        else:
            assert field.default == contract.get_default(), field.name


@pytest.mark.parametrize("fields", ENCODED)
def test_encodes_byte_for_byte_like_the_contract(fields: dict[str, Any]) -> None:
    ours = interaction_encoder.encode(InteractionRecord(**fields))
    assert ours == Interaction(**fields).model_dump_json().encode()
    assert ours == orjson.dumps(Interaction(**fields).model_dump())
    assert Interaction.model_validate_json(ours) == Interaction(**fields)
    assert decode_interaction(ours) == InteractionRecord(**fields)


@pytest.mark.parametrize(
    ("actor", "key"),
    [
        ({"user_id": "u", "device_id": "d"}, "u"),
        ({"user_id": "", "device_id": "d"}, "d"),
        ({"user_id": None, "device_id": None}, "s1"),  # the stage never writes one
    ],
)
def test_the_key_is_the_actor_in_both(actor: dict[str, Any], key: str) -> None:
    fields = {**VALID, **actor}
    assert InteractionRecord(**fields).key == Interaction(**fields).key == key


@pytest.mark.parametrize("fields", ACCEPTED)
def test_accepts_what_pydantic_accepts_with_the_same_values(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
    fast = _decoder.decode(body)
    contract = Interaction.model_validate_json(body)
    assert {name: getattr(fast, name) for name in Interaction.model_fields} == dict(contract)


@pytest.mark.parametrize("fields", REFUSED)
def test_refuses_what_pydantic_refuses_with_its_message(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
    with pytest.raises(msgspec.ValidationError):
        _decoder.decode(body)
    with pytest.raises(ValidationError) as contract:
        Interaction.model_validate_json(body)
    with pytest.raises(InvalidInteraction) as caught:
        decode_interaction(body)
    assert str(caught.value) == contract.value.errors()[0]["msg"]


@pytest.mark.parametrize("fields", COERCED)
def test_what_only_pydantic_coerces_is_still_accepted(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
    assert decode_interaction(body) == Interaction.model_validate_json(body)


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInteraction, match="Invalid JSON"):
        decode_interaction(b"{not json")


def test_invalid_utf8_and_deep_nesting_are_invalid_interactions() -> None:
    """msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in a string."""
    for value in (b'{"event_id": "\xff\xfe"}', b'{"event_id": ' + b"[" * 100_000 + b"}"):
        with pytest.raises(InvalidInteraction):
            decode_interaction(value)
