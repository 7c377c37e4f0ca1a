"""HTTP V2 bodies as Amplitude's SDKs write them: split into the events as sent, key read apart."""

import orjson
import pytest

from ingest.bodies import envelope_api_key, split_events
from tests.fixtures.amplitude_fixtures import http_v2_body, webhook_default_payload


def test_a_v2_body_splits_into_its_events_byte_for_byte() -> None:
    body = http_v2_body()
    events = split_events(body)
    assert [orjson.loads(bytes(e)) for e in events] == orjson.loads(body)["events"]
    assert all(bytes(e) in body for e in events)
    assert envelope_api_key(body) == "docs-api-key"


def test_the_webhook_payload_is_one_event_and_no_v2_body() -> None:
    body = webhook_default_payload()
    assert [bytes(e) for e in split_events(body)] == [body]
    assert envelope_api_key(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"api_key": 5, "events": []}',  # not a string
        b'{"api_key": "k"}',  # no events: a single event that happens to have the field
        b'[{"api_key": "k", "events": [1]}]',
        b'{"api_key": "k", "events": [1]}\n{"x": 1}',  # NDJSON
        b"",
    ],
)
def test_no_key_unless_a_v2_envelope_carries_a_string(body: bytes) -> None:
    assert envelope_api_key(body) is None
