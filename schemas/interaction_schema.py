"""The interactions topic's JSON Schema: generated from `Interaction`, committed, checked.

    .venv/bin/python -m schemas.interaction_schema    # rewrites schemas/interaction.schema.json

tests/unit/schemas/test_interaction_schema.py fails when the committed file and the model
disagree, and when the model would break a consumer of a released version (`breaking_changes`).
"""

import json
from pathlib import Path
from typing import Any

from schemas.interaction import INTERACTION_SCHEMA_VERSION, Interaction

SCHEMA_PATH = Path(__file__).with_name("interaction.schema.json")
# What a field's values look like; other keywords (description, limits, title) may change.
_SHAPE_KEYS = ("type", "anyOf", "items", "const", "enum", "$ref", "format")


def generate() -> dict[str, Any]:
    schema = Interaction.model_json_schema(mode="serialization")
    # Fields are added over time (optional ones, a higher schema_version): consumers must
    # ignore fields they do not know, so the published schema allows them.
    schema.pop("additionalProperties", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"interactions.weighted/v{INTERACTION_SCHEMA_VERSION}",
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _shape(field: dict[str, Any]) -> dict[str, Any]:
    """The shape keys only, also inside `anyOf` members (a limit there may change too)."""
    shape = {key: field[key] for key in _SHAPE_KEYS if key in field}
    if "anyOf" in shape:
        shape["anyOf"] = [_shape(member) for member in shape["anyOf"]]
    return shape


def breaking_changes(released: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What in `current` breaks a consumer written against `released` (empty: compatible)."""
    problems = []
    old, new = released.get("properties", {}), current.get("properties", {})
    for name, field in old.items():
        if name not in new:
            problems.append(f"{name}: removed")
        elif _shape(field) != _shape(new[name]):
            problems.append(f"{name}: retyped from {_shape(field)} to {_shape(new[name])}")
    for name in sorted(set(current.get("required", [])) - set(released.get("required", []))):
        problems.append(f"{name}: newly required (records without it exist)")
    return problems


def main() -> None:
    SCHEMA_PATH.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
