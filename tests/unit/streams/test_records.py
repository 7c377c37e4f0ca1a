"""The hot path's msgspec structs say exactly what the pydantic contracts say."""

from typing import Any

import orjson
import pytest

from schemas import AmplitudeEvent, Interaction
from schemas.amplitude import _Fields
from streams.records import InteractionRecord, interaction_encoder

CASES: list[dict[str, Any]] = [
    {
        "event_id": "e1",
        "user_id": "u1",
        "session_id": "1700000000000",
        "item_id": "i1",
        "event_type": "click",
        "personalize_event_type": "click",
        "weight": 1.0,
        "timestamp_ms": 1700000000000,
    },
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


def test_fields_and_their_order_match() -> None:
    assert InteractionRecord.__struct_fields__ == tuple(Interaction.model_fields)


@pytest.mark.parametrize("fields", CASES)
def test_encodes_byte_for_byte_like_the_contract(fields: dict[str, Any]) -> None:
    ours = interaction_encoder.encode(InteractionRecord(**fields))
    assert ours == Interaction(**fields).model_dump_json().encode()
    assert ours == orjson.dumps(Interaction(**fields).model_dump())
    assert Interaction.model_validate_json(ours) == Interaction(**fields)
    assert InteractionRecord(**fields).key == Interaction(**fields).key


def test_the_normaliser_reads_a_subset_of_the_amplitude_contract() -> None:
    assert set(_Fields.__struct_fields__) <= set(AmplitudeEvent.model_fields)
