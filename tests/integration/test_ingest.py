"""The webhook against a real broker: what it acknowledges is on the topic, keyed and labelled."""

from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest import IngestSettings, create_app
from pipeline.settings import KafkaSettings
from tests.kafka_fixture import TopicReader

SECRET = "s3cret"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
async def client(kafka_settings: KafkaSettings) -> AsyncIterator[TestClient]:
    settings = IngestSettings(
        **kafka_settings.model_dump(), amplitude_webhook_secret=SECRET, ingest_max_events=5
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


def click(user: str, n: int) -> dict[str, object]:
    return {
        "event_type": "click",
        "user_id": user,
        "insert_id": f"{user}-{n}",
        "event_properties": {"item_id": f"i{n}"},
    }


async def test_envelope_is_written_keyed_by_user(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    events = [click("u1", 1), click("u2", 2), {**click("", 3), "device_id": "d3"}]
    response = await client.post("/webhooks/amplitude", json={"events": events}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["received"], body["accepted"], body["rejected"]) == (3, 3, 0)

    messages = topic_reader(kafka_settings.raw_topic).read(3)
    by_key = {m.key(): orjson.loads(m.value()) for m in messages}
    assert by_key == {b"u1": events[0], b"u2": events[1], b"d3": events[2]}
    headers = dict(messages[0].headers())
    assert headers["request_id"] == body["request_id"].encode()
    assert headers["content_type"] == b"application/json"
    assert int(headers["received_at_ms"]) > 0


async def test_trailing_slash_and_bad_events_go_to_dead_letters(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    events = [click("u1", 1), {"event_type": "click"}, "nonsense"]
    response = await client.post("/webhooks/amplitude/", json={"events": events}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert body["errors"] == [
        {"index": 1, "reason": "missing_user_and_device_id"},
        {"index": 2, "reason": "not_an_object"},
    ]
    assert [m.key() for m in topic_reader(kafka_settings.raw_topic).read(1)] == [b"u1"]
    dead = topic_reader(kafka_settings.raw_dead_letter_topic).read(2)
    assert sorted(dict(m.headers())["dead_letter_reason"] for m in dead) == [
        b"missing_user_and_device_id",
        b"not_an_object",
    ]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_bad_credentials_write_nothing(
    client: TestClient,
    headers: dict[str, str],
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    response = await client.post(
        "/webhooks/amplitude", json={"events": [click("u", 1)]}, headers=headers
    )
    assert response.status == 401
    # A later, authorised request's event is the first and only one on the topic.
    ok = await client.post("/webhooks/amplitude", json=click("later", 1), headers=AUTH)
    assert ok.status == 200
    assert [m.key() for m in topic_reader(kafka_settings.raw_topic).read(1)] == [b"later"]


async def test_malformed_and_oversized_requests(client: TestClient) -> None:
    malformed = await client.post("/webhooks/amplitude", data=b'{"events": [', headers=AUTH)
    assert malformed.status == 400
    assert "malformed JSON" in (await malformed.json())["error"]
    too_many = await client.post(
        "/webhooks/amplitude", json=[click("u", n) for n in range(6)], headers=AUTH
    )
    assert too_many.status == 413


async def test_probes_and_metrics(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    await client.post("/webhooks/amplitude", json=click("u", 1), headers=AUTH)
    text = await (await client.get("/metrics")).text()
    assert 'ingest_events_total{outcome="accepted"}' in text
    assert "ingest_request_duration_seconds_bucket" in text
