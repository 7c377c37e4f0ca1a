"""PutEvents' limits, read from botocore's model: the fast check and the full walk agree."""

from datetime import UTC, datetime

from core.service_model import validate
from sinks.personalize.events import _shapes, event_problems

SHAPES = _shapes()


def test_event_limits_come_from_botocores_model() -> None:
    event = {"eventId": "e", "eventType": "click", "itemId": "i", "sentAt": datetime.now(UTC)}
    assert event_problems("u", "s", event) == []
    assert any(
        "impression" in p for p in event_problems("u", "s", {**event, "impression": ["x"] * 26})
    )
    assert any(
        "properties" in p for p in event_problems(None, "s", {**event, "properties": "x" * 1025})
    )
    assert any(
        "recommendationId" in p
        for p in event_problems("u", "s", {**event, "recommendationId": "r" * 41})
    )
    assert event_problems("u" * 257, "s", event) == ["userId: length 257 is above the maximum 256"]


def test_fast_check_agrees_with_the_full_walk() -> None:
    ok = {"eventId": "e", "eventType": "t", "eventValue": 1.0, "itemId": "i", "sentAt": 0}
    cases = [
        ok,
        {**ok, "impression": ["a", "b"]},
        {**ok, "impression": []},
        {**ok, "impression": ["a", ""]},
        {**ok, "itemId": ""},
        {**ok, "recommendationId": "r" * 40},
        {**ok, "recommendationId": "r" * 41},
        {**ok, "metricAttribution": {"eventAttributionSource": "s"}},
        {**ok, "metricAttribution": {}},
    ]
    for event in cases:
        full = validate(SHAPES[0], {**event, "sentAt": 0.0})
        assert (event_problems("u", "s", event) == []) == (full == []), event
