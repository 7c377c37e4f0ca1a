"""The raw topic's rule, written once (schemas.check_actor): usable events and their key."""

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas import AmplitudeEvent, InvalidEvent, check_actor, check_event, normalize
from schemas.amplitude import _Fields

CASES: list[tuple[Any, tuple[str | None, str | None]]] = [
    ({"event_type": "click", "user_id": "u"}, ("u", None)),
    ({"event_type": "click", "device_id": "d"}, ("d", None)),
    ({"event_type": "click", "user_id": "u", "device_id": "d"}, ("u", None)),  # user first
    ({"event_type": "click", "user_id": "", "device_id": "d"}, ("d", None)),
    ({"event_type": "click", "user_id": None, "device_id": "d"}, ("d", None)),
    ("click", (None, "not_an_object")),
    ([{"event_type": "click", "user_id": "u"}], (None, "not_an_object")),
    ({"user_id": "u"}, (None, "missing_event_type")),
    ({"event_type": "", "user_id": "u"}, (None, "missing_event_type")),
    ({"event_type": 3, "user_id": "u"}, (None, "missing_event_type")),
    ({"event_type": "click"}, (None, "missing_user_and_device_id")),
    ({"event_type": "click", "user_id": ""}, (None, "missing_user_and_device_id")),
    ({"event_type": "click", "user_id": "", "device_id": ""}, (None, "missing_user_and_device_id")),
    ({"event_type": "click", "user_id": 42}, (None, "user_id_not_a_string")),
    ({"event_type": "click", "user_id": 5, "device_id": "d"}, (None, "user_id_not_a_string")),
    ({"event_type": "click", "device_id": 4.2}, (None, "device_id_not_a_string")),
    ({"event_type": "click", "user_id": "", "device_id": {}}, (None, "device_id_not_a_string")),
]


USER_RECORDS: list[tuple[Any, tuple[str | None, str | None]]] = [
    ({"user_id": "u", "user_properties": {"plan": "pro"}, "country": "DE"}, ("u", None)),
    ({"event_type": None, "device_id": "d", "user_properties": {}}, ("d", None)),
    ({"user_properties": {}}, (None, "missing_user_and_device_id")),
    ({"user_id": "u", "user_properties": None}, (None, "missing_event_type")),
    ({"user_id": "u", "user_properties": ["plan"]}, (None, "missing_event_type")),
    ({"event_type": "", "user_id": "u", "user_properties": {}}, (None, "missing_event_type")),
]


@pytest.mark.parametrize(("event", "expected"), USER_RECORDS)
def test_a_user_record_is_usable_without_an_event_type(
    event: Any, expected: tuple[str | None, str | None]
) -> None:
    """Backfill's and ingest's rule accept Amplitude's user records; the stream stage tells
    them apart (streams/user_records.py) from the events it refuses."""
    from streams.user_records import is_user_record

    assert check_event(event) == expected
    assert is_user_record(orjson.dumps(event)) == (expected[0] is not None)


@pytest.mark.parametrize(("event", "expected"), CASES)
def test_check_event(event: Any, expected: tuple[str | None, str | None]) -> None:
    assert check_event(event) == expected


def test_check_actor_is_check_event_on_the_fields() -> None:
    assert check_actor("click", "u", "d") == ("u", None)
    assert check_actor("click", None, None) == (None, "missing_user_and_device_id")


@pytest.mark.parametrize(("event", "expected"), [c for c in CASES if isinstance(c[0], dict)])
def test_the_normaliser_and_the_documentation_model_apply_the_same_rule(
    event: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    """The stream stage (`normalize`) and `AmplitudeEvent` accept the events the rule accepts,
    with the rule's actor; they refuse the others (with their own reasons)."""
    actor, _reason = expected
    try:
        normalized = normalize(orjson.dumps(event), 0, 0)
    except InvalidEvent as exc:
        assert actor is None
        assert exc.reason == "schema_invalid"
    else:
        assert normalized.actor == actor
    try:
        model = AmplitudeEvent.model_validate(event)
    except ValidationError:
        assert actor is None
    else:
        assert model.actor_id == actor


def test_the_normaliser_reads_a_subset_of_the_amplitude_contract() -> None:
    assert set(_Fields.__struct_fields__) <= set(AmplitudeEvent.model_fields)
