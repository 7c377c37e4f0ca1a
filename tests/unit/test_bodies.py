"""Splitting webhook bodies and the light per-event check."""

import pytest

from ingest.bodies import BodyError, check_event, event_key, split_events


def test_envelope() -> None:
    assert split_events(b'{"events": [{"a": 1}, {"b": 2}]}') == [{"a": 1}, {"b": 2}]


def test_bare_array() -> None:
    assert split_events(b'[{"a": 1}]') == [{"a": 1}]


def test_single_event() -> None:
    assert split_events(b'{"event_type": "click"}') == [{"event_type": "click"}]


def test_ndjson() -> None:
    assert split_events(b'{"a": 1}\n\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b'{"a": 1}\n{oops', "line 2"),
        (b'{"events": 3}', "array"),
        (b"42", "must be"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message) as caught:
        split_events(body)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"event_type": "click", "user_id": "u"}, None),
        ({"event_type": "click", "device_id": "d"}, None),
        ("click", "not_an_object"),
        ({"user_id": "u"}, "missing_event_type"),
        ({"event_type": 3, "user_id": "u"}, "missing_event_type"),
        ({"event_type": "click"}, "missing_user_and_device_id"),
        ({"event_type": "click", "user_id": ""}, "missing_user_and_device_id"),
    ],
)
def test_check_event(event: object, reason: str | None) -> None:
    assert check_event(event) == reason


def test_key_prefers_user_id() -> None:
    assert event_key({"user_id": "u", "device_id": "d"}) == b"u"
    assert event_key({"device_id": "d"}) == b"d"
