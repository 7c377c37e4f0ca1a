"""The sink's msgspec decoder accepts only what the pydantic contract accepts, with its values."""

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas import Interaction
from sinks.personalize.interaction_decoder import InvalidInteraction, _decoder, decode_interaction

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
    {**VALID, "event_type": 3},
    {key: value for key, value in VALID.items() if key != "personalize_event_type"},
]

# What pydantic's lax mode coerces: msgspec refuses, pydantic decides (and accepts).
COERCED = [
    {**VALID, "weight": "1.5"},
    {**VALID, "timestamp_ms": 1700000000000.0},
    {**VALID, "timestamp_ms": "1700000000000"},
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_accepts_what_pydantic_accepts_with_the_same_values(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
    fast = _decoder.decode(body)
    contract = Interaction.model_validate_json(body)
    assert {name: getattr(fast, name) for name in Interaction.model_fields} == dict(contract)


@pytest.mark.parametrize("fields", REFUSED)
def test_refuses_what_pydantic_refuses_with_its_message(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
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


def test_fields_match_the_contract() -> None:
    from sinks.personalize.interaction_decoder import _Strict

    assert _Strict.__struct_fields__ == tuple(Interaction.model_fields)


def test_invalid_utf8_and_deep_nesting_are_invalid_interactions() -> None:
    """msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in a string."""
    import pytest

    from sinks.personalize.interaction_decoder import InvalidInteraction, decode_interaction

    for value in (b'{"event_id": "\xff\xfe"}', b'{"event_id": ' + b"[" * 100_000 + b"}"):
        with pytest.raises(InvalidInteraction):
            decode_interaction(value)
