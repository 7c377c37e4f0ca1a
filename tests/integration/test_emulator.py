"""boto3 against the emulator over HTTP: what AWS accepts is kept, what it refuses is refused."""

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from tests.personalize_fixture import RunningEmulator

SENT_AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_put_events_is_accepted_and_read_back(personalize_emulator: RunningEmulator) -> None:
    client = personalize_emulator.client()
    client.put_events(
        trackingId="t1",
        userId="u1",
        sessionId="s1",
        eventList=[{"eventType": "click", "eventValue": 1.0, "itemId": "i1", "sentAt": SENT_AT}],
    )
    assert personalize_emulator.put_events() == [
        {
            "trackingId": "t1",
            "userId": "u1",
            "sessionId": "s1",
            "eventList": [
                {
                    "eventType": "click",
                    "eventValue": 1.0,
                    "itemId": "i1",
                    "sentAt": SENT_AT.timestamp(),
                }
            ],
        }
    ]


def test_invalid_request_gets_aws_error_shape(personalize_emulator: RunningEmulator) -> None:
    client = personalize_emulator.client()
    with pytest.raises(ClientError) as caught:
        client.put_events(
            trackingId="t1",
            sessionId="s1",
            eventList=[{"eventType": "click", "sentAt": SENT_AT, "itemId": "x" * 300}],
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidInputException"
    assert "above the maximum 256" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert personalize_emulator.put_events() == []


def test_eleventh_event_type_is_refused(personalize_emulator: RunningEmulator) -> None:
    client = personalize_emulator.client()
    for n in range(10):
        client.put_events(
            trackingId="t1", sessionId="s", eventList=[{"eventType": f"type{n}", "sentAt": SENT_AT}]
        )
    with pytest.raises(ClientError, match="exceed 10 distinct event types"):
        client.put_events(
            trackingId="t1", sessionId="s", eventList=[{"eventType": "type10", "sentAt": SENT_AT}]
        )
    # Another tracker is another dataset, with its own budget.
    client.put_events(
        trackingId="t2", sessionId="s", eventList=[{"eventType": "type10", "sentAt": SENT_AT}]
    )
