"""An Amplitude value as a Users/Items field: Personalize's form, or left out with a reason."""

from typing import Any

import pytest

from schemas.catalog_fields import field_value, map_fields
from schemas.rules import FieldRule


def rule(kind: str = "categorical", **extra: Any) -> FieldRule:
    name = "CREATION_TIMESTAMP" if kind == "timestamp" else "F"
    return FieldRule(name=name, source="user_properties.x", type=kind, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (rule(), "DE", ("DE", None)),
        (rule(), "  DE ", ("DE", None)),
        (rule(), 7, ("7", None)),
        (rule(), True, ("true", None)),
        (rule(), None, (None, None)),
        (rule(), "", (None, None)),
        (rule(), {"a": 1}, (None, "wrong_type")),
        (rule(), ["a", "b"], (None, "wrong_type")),  # a list needs multi_value
        (rule(multi_value=True), ["a", "b", 3], ("a|b|3", None)),
        (rule(), "x" * 1000, ("x" * 1000, None)),
        (rule(), "x" * 1001, (None, "too_long")),
        (rule(max_length=5), "abcdef", (None, "too_long")),
        (rule(multi_value=True, max_length=5), ["abc", "def"], (None, "too_long")),
        (rule("int"), "41", (41, None)),
        (rule("int"), 41.0, (41, None)),
        (rule("int"), 2**31, (None, "out_of_range")),
        (rule("long"), 2**31, (2**31, None)),
        (rule("long"), 2**63, (None, "out_of_range")),
        (rule("int"), "forty", (None, "wrong_type")),
        (rule("int"), True, (None, "wrong_type")),
        (rule("int"), 4.5, (None, "wrong_type")),
        (rule("float"), "4.5", (4.5, None)),
        (rule("float"), 3, (3.0, None)),
        (rule("float"), "nan", (None, "out_of_range")),
        (rule("float"), [1], (None, "wrong_type")),
        (rule("timestamp"), 1700000000000, (1700000000, None)),  # ms
        (rule("timestamp"), 1700000000, (1700000000, None)),  # s
        (rule("timestamp"), "2023-11-14 22:13:20.000", (1700000000, None)),
        (rule("timestamp"), "yesterday", (None, "out_of_range")),
        (rule("timestamp"), 12, (None, "out_of_range")),
        (rule("timestamp"), {"t": 1}, (None, "wrong_type")),
    ],
)
def test_each_type(field: FieldRule, value: Any, expected: tuple[Any, Any]) -> None:
    assert field_value(field, value) == expected


def test_the_rest_flows_when_one_value_is_left_out() -> None:
    rules = [
        FieldRule(name="COUNTRY", source="country"),
        FieldRule(name="AGE", source="user_properties.age", type="int"),
    ]
    values = {"country": "DE", "user_properties.age": "old"}
    assert map_fields(rules, lambda f: values.get(f.source)) == ({"COUNTRY": "DE"}, ["wrong_type"])
