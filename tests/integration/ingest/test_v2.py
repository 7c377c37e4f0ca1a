"""The webhook as Amplitude's senders use it, on a real broker: the webhook destination's default
payload, and HTTP V2 bodies whose only credential is the `api_key` (Amplitude's SDKs)."""

from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.settings import KafkaSettings
from ingest import IngestSettings, create_app
from tests.fixtures.amplitude_fixtures import http_v2_body, webhook_default_payload, with_ids
from tests.fixtures.kafka_fixture import TopicReader

SECRET = "s3cret"
API_KEYS = "first-key, docs-api-key"  # the second is the fixture body's
URL = "/webhooks/amplitude"
AS_SENT = {"Content-Type": "application/json"}


@pytest.fixture
async def client(kafka_settings: KafkaSettings) -> AsyncIterator[TestClient]:
    settings = IngestSettings(
        **kafka_settings.model_dump(),
        amplitude_webhook_secret=SECRET,
        ingest_api_keys=API_KEYS,
        ingest_hmac_secret=None,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


def assert_only(reader: TopicReader, count: int) -> list[bytes]:
    reader.read(count)
    reader.poll()
    assert len(reader.messages) == count
    return [m.value() for m in reader.messages]


async def test_the_webhook_default_payload_is_kept_byte_for_byte(
    client: TestClient, kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    body = webhook_default_payload()
    headers = {**AS_SENT, "User-Agent": "Amplitude/Webhook/1.0", "Authorization": SECRET}
    response = await client.post(URL, data=body, headers=headers)
    assert response.status == 200
    answer = await response.json()
    assert (answer["code"], answer["events_ingested"], answer["accepted"]) == (200, 1, 1)
    assert answer["payload_size_bytes"] == len(body)
    assert answer["server_upload_time"] > 1_700_000_000_000
    assert assert_only(topic_reader(kafka_settings.raw_topic), 1) == [body]


async def test_an_http_v2_body_with_a_configured_api_key_needs_no_header(
    client: TestClient, kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    body = http_v2_body()
    response = await client.post(URL, data=body, headers=AS_SENT)
    assert response.status == 200
    answer = await response.json()
    assert (answer["code"], answer["events_ingested"]) == (200, 2)
    written = assert_only(topic_reader(kafka_settings.raw_topic), 2)
    # Each event exactly as it appears inside the body: sliced, not re-encoded.
    assert all(value in body for value in written)
    assert [orjson.loads(v) for v in written] == orjson.loads(body)["events"]


@pytest.mark.parametrize(
    "body",
    [
        with_ids(http_v2_body(), {"docs-api-key": "docs-api-ke"}),  # a prefix is no match
        with_ids(http_v2_body(), {"docs-api-key": ""}),
        b'{"events": [{"event_type": "click", "user_id": "u"}]}',  # no key at all
        b'[{"event_type": "click", "user_id": "u", "api_key": "docs-api-key"}]',  # not V2
        b'{"api_key": "docs-api-key", "events": [',  # unreadable: refused as unauthenticated
    ],
)
async def test_a_wrong_or_missing_api_key_writes_nothing(
    client: TestClient,
    body: bytes,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    response = await client.post(URL, data=body, headers=AS_SENT)
    assert response.status == 401
    answer = await response.json()
    assert answer["code"] == 401
    assert answer["error"].startswith("Invalid API key:")  # what the SDKs recognise
    assert "docs-api-key" not in answer["error"] and "first-key" not in answer["error"]
    later = with_ids(http_v2_body(), {"docs-api-key": "first-key"})
    assert (await client.post(URL, data=later, headers=AS_SENT)).status == 200
    assert len(assert_only(topic_reader(kafka_settings.raw_topic), 2)) == 2  # later's only


async def test_partial_rejection_of_a_v2_body_is_v2s_400_and_keeps_the_rest(
    client: TestClient, kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    good = {"event_type": "click", "user_id": "u1", "insert_id": "k1", "time": 1700000000000}
    events = [good, {"event_type": "click"}, {"user_id": "u2"}, "nonsense"]
    body = orjson.dumps({"api_key": "first-key", "events": events})
    response = await client.post(URL, data=body, headers=AS_SENT)
    assert response.status == 400
    answer = await response.json()
    assert answer["code"] == 400 and answer["error"]
    assert answer["events_with_missing_fields"] == {"user_id": [1], "event_type": [2]}
    assert answer["events_with_invalid_fields"] == {"not_an_object": [3]}
    assert (answer["events_ingested"], answer["accepted"], answer["rejected"]) == (1, 1, 3)
    assert [orjson.loads(v) for v in assert_only(topic_reader(kafka_settings.raw_topic), 1)] == [
        good
    ]
    # The same rejections in a body that is not HTTP V2: a 200 listing them, as before.
    response = await client.post(
        URL, json={"events": events}, headers={**AS_SENT, "Authorization": SECRET}
    )
    assert response.status == 200
    assert (await response.json())["rejected"] == 3
