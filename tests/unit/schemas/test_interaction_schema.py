"""The interactions topic's committed JSON Schema matches the model and breaks no consumer.

Released versions are frozen in tests/unit/released_schemas/: copy the schema there when a
version ships, and never edit a copy.
"""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from schemas import InteractionRecord, interaction_encoder
from schemas.interaction_schema import SCHEMA_PATH, breaking_changes, generate, render

RELEASED = sorted(Path(__file__).with_name("released_schemas").glob("interaction.v*.schema.json"))


def test_committed_schema_is_the_models() -> None:
    assert SCHEMA_PATH.read_text() == render(generate()), (
        "the committed schema is stale: run .venv/bin/python -m schemas.interaction_schema"
    )


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: p.name)
def test_no_released_consumer_breaks(released: Path) -> None:
    assert breaking_changes(json.loads(released.read_text()), generate()) == []


def test_a_record_from_the_stage_validates_against_the_committed_schema() -> None:
    record = InteractionRecord(
        event_id="e1",
        user_id="u1",
        session_id="1700000000000",
        item_id="i1",
        event_type="initial_impression",
        personalize_event_type="impression",
        weight=0.3,
        timestamp_ms=1700000000000,
        impression=["i1", "i2"],
        recommendation_id="rec-1",
        insert_id="ins-1",
    )
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(orjson.loads(interaction_encoder.encode(record)), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"event_id": "e1", "weight": "heavy"}, schema)


def _mutated(change: str) -> dict[str, Any]:
    schema = copy.deepcopy(generate())
    if change == "remove":
        del schema["properties"]["weight"]
    elif change == "retype":
        schema["properties"]["timestamp_ms"]["type"] = "string"
    elif change == "require":
        schema["required"].append("recommendation_id")
    return schema


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("remove", "weight: removed"),
        ("retype", "timestamp_ms: retyped"),
        ("require", "recommendation_id: newly required"),
    ],
)
def test_breaking_changes_are_caught(change: str, problem: str) -> None:
    problems = breaking_changes(generate(), _mutated(change))
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_an_added_optional_field_is_compatible() -> None:
    schema = copy.deepcopy(generate())
    schema["properties"]["experiment"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(generate(), schema) == []
