"""boto3 against the emulator over HTTP: what AWS accepts is kept, what it refuses is refused."""

import urllib.error
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures.personalize_fixture import RunningEmulator

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


def test_injected_faults_are_what_botocore_retries_or_refuses(
    personalize_emulator: RunningEmulator,
) -> None:
    """Throttling and 503 are retried by botocore's standard mode; an unknown tracker is not."""
    client = boto3.client(
        "personalize-events",
        endpoint_url=personalize_emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    event = [{"eventType": "click", "sentAt": SENT_AT, "eventId": "e1"}]
    for faults, code, status, retries in (
        ({"throttle_rate": 1.0}, "ThrottlingException", 400, 1),
        ({"throttle_rate": 0.0, "error_rate": 1.0}, "ServiceUnavailable", 503, 1),
        ({"error_rate": 0.0, "unknown_tracker": True}, "ResourceNotFoundException", 400, 0),
    ):
        personalize_emulator.set_faults(**faults)
        with pytest.raises(ClientError) as caught:
            client.put_events(trackingId="t1", sessionId="s", eventList=event)
        response = caught.value.response
        assert response["Error"]["Code"] == code
        assert response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert response["ResponseMetadata"]["RetryAttempts"] == retries
    personalize_emulator.set_faults(unknown_tracker=False, latency_ms=50)
    client.put_events(trackingId="t1", sessionId="s", eventList=event)
    client.put_events(trackingId="t1", sessionId="s", eventList=event)  # a re-send
    stats = personalize_emulator.stats()
    assert (stats["throttled"], stats["server_errors"], stats["resource_not_found"]) == (2, 2, 1)
    assert (stats["calls"], stats["distinct_event_ids"], stats["resent_events"]) == (2, 1, 1)


def test_fault_settings_are_checked(personalize_emulator: RunningEmulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        personalize_emulator.set_faults(throttle=0.5)
    assert caught.value.code == 400


def test_fault_flags_parse_false_as_false(personalize_emulator: RunningEmulator) -> None:
    """ "false" (as a shell or curl user writes it) switches a flag off; rates stay within 0-1."""
    try:
        assert personalize_emulator.set_faults(unknown_tracker="true")["unknown_tracker"] is True
        assert personalize_emulator.set_faults(unknown_tracker="false")["unknown_tracker"] is False
        assert personalize_emulator.set_faults(unknown_tracker=0)["unknown_tracker"] is False
        assert personalize_emulator.set_faults(throttle_rate="0.25")["throttle_rate"] == 0.25
        for bad in ({"throttle_rate": 2}, {"unknown_tracker": "maybe"}):
            with pytest.raises(urllib.error.HTTPError) as caught:
                personalize_emulator.set_faults(**bad)
            assert caught.value.code == 400
        assert personalize_emulator.set_faults()["throttle_rate"] == 0.25  # nothing half-applied
    finally:
        personalize_emulator.set_faults(unknown_tracker=False, throttle_rate=0.0)
