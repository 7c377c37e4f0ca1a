"""The emulator's request checks follow botocore's PutEvents model, including maximums."""

import botocore.session

from core.service_model import validate

SHAPE = (
    botocore.session.get_session()
    .get_service_model("personalize-events")
    .operation_model("PutEvents")
    .input_shape
)


def request(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "trackingId": "t",
        "sessionId": "s",
        "userId": "u",
        "eventList": [{"eventType": "click", "sentAt": 1700000000.5, "itemId": "i"}],
    }
    body.update(overrides)
    return body


def test_valid_request() -> None:
    assert validate(SHAPE, request()) == []


def test_missing_required_members() -> None:
    body = request()
    del body["sessionId"]
    assert validate(SHAPE, body) == ["PutEventsRequest: missing required member 'sessionId'"]


def test_more_than_ten_events() -> None:
    events = [{"eventType": "click", "sentAt": 1} for _ in range(11)]
    assert validate(SHAPE, request(eventList=events)) == [
        "PutEventsRequest.eventList: length 11 is above the maximum 10"
    ]


def test_maximum_lengths_botocore_does_not_check_itself() -> None:
    event = {"eventType": "click", "sentAt": 1, "itemId": "i" * 257, "impression": ["x"] * 26}
    errors = validate(SHAPE, request(eventList=[event]))
    assert "PutEventsRequest.eventList[0].itemId: length 257 is above the maximum 256" in errors
    assert "PutEventsRequest.eventList[0].impression: length 26 is above the maximum 25" in errors


def test_types_and_unknown_members() -> None:
    event = {"eventType": "click", "sentAt": "yesterday", "eventValue": "high", "colour": 1}
    assert sorted(validate(SHAPE, request(eventList=[event]))) == [
        "PutEventsRequest.eventList[0].eventValue: expected a number",
        "PutEventsRequest.eventList[0].sentAt: expected a timestamp in epoch seconds",
        "PutEventsRequest.eventList[0]: unknown member 'colour'",
    ]
