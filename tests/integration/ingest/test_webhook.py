"""The webhook against a real broker: what it acknowledges is on the topic, keyed and labelled;
what it refuses is nowhere."""

import gzip
import hashlib
import hmac
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY, generate_latest

from core.settings import KafkaSettings
from ingest import IngestSettings, create_app
from ingest.app import internal_app
from ingest.signatures import sign
from tests.fixtures.kafka_fixture import TopicReader

SECRET = "s3cret"
AUTH = {"Authorization": f"Bearer {SECRET}"}
JSON = {**AUTH, "Content-Type": "application/json"}
URL = "/webhooks/amplitude"


async def serve(settings: IngestSettings) -> TestClient:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(kafka_settings: KafkaSettings) -> AsyncIterator[TestClient]:
    settings = IngestSettings(
        **kafka_settings.model_dump(),
        amplitude_webhook_secret=SECRET,
        ingest_max_events=5,
        ingest_max_body_bytes=64 * 1024,
        ingest_max_event_bytes=2000,
    )
    client = await serve(settings)
    yield client
    await client.close()


def click(user: str, n: int) -> dict[str, object]:
    return {
        "event_type": "click",
        "user_id": user,
        "insert_id": f"{user}-{n}",
        "event_properties": {"item_id": f"i{n}"},
    }


def assert_only(reader: TopicReader, keys: list[bytes]) -> None:
    """The topic holds exactly these keys (read until they are there, then once more)."""
    reader.read(len(keys))
    reader.poll()
    assert sorted(m.key() for m in reader.messages) == sorted(keys)


async def test_envelope_is_written_keyed_by_user(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    events = [click("u1", 1), click("u2", 2), {**click("", 3), "device_id": "d3"}]
    response = await client.post(URL, json={"events": events}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["received"], body["accepted"], body["rejected"]) == (3, 3, 0)
    assert response.headers["X-Request-Id"] == body["request_id"]

    messages = topic_reader(kafka_settings.raw_topic).read(3)
    by_key = {m.key(): orjson.loads(m.value()) for m in messages}
    assert by_key == {b"u1": events[0], b"u2": events[1], b"d3": events[2]}
    headers = dict(messages[0].headers())
    assert headers["request_id"] == body["request_id"].encode()
    assert headers["content_type"] == b"application/json"
    assert int(headers["received_at_ms"]) > 0


def _ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


FORMATS: dict[str, tuple[str, Callable[[list[dict[str, Any]]], bytes]]] = {
    "envelope": ("application/json", lambda events: orjson.dumps({"events": events})),
    "array": ("application/json", orjson.dumps),
    "single": ("application/json", lambda events: orjson.dumps(events[0])),
    "ndjson": ("application/x-ndjson", _ndjson),
}


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", list(FORMATS))
async def test_every_body_format_plain_and_gzipped(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    shape: str,
    gzipped: bool,
) -> None:
    content_type, encode = FORMATS[shape]
    events = [click("u1", 1)] if shape == "single" else [click(f"u{n}", n) for n in range(4)]
    body = encode(events)
    headers = {**AUTH, "Content-Type": content_type, "X-Request-Id": f"req-{shape}"}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    response = await client.post(URL, data=body, headers=headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["accepted"] == len(events)

    messages = topic_reader(kafka_settings.raw_topic).read(len(events))
    assert sorted(orjson.loads(m.value())["insert_id"] for m in messages) == sorted(
        e["insert_id"] for e in events
    )
    assert {dict(m.headers())["request_id"] for m in messages} == {f"req-{shape}".encode()}
    assert {dict(m.headers())["content_type"] for m in messages} == {content_type.encode()}


async def test_mixed_batch_good_on_raw_bad_on_dead_letter_with_reasons(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    too_big = {**click("big", 9), "pad": "x" * 3000}
    events = [click("u1", 1), {"event_type": "click"}, "nonsense", click("u2", 2), too_big]
    response = await client.post(f"{URL}/", json={"events": events}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["received"], body["accepted"], body["rejected"]) == (5, 2, 3)
    assert body["errors"] == [
        {"index": 1, "reason": "missing_user_and_device_id"},
        {"index": 2, "reason": "not_an_object"},
        {"index": 4, "reason": "event_too_large"},
    ]
    assert_only(topic_reader(kafka_settings.raw_topic), [b"u1", b"u2"])
    dead = topic_reader(kafka_settings.raw_dead_letter_topic).read(3)
    by_index = {int(dict(m.headers())["event_index"]): m for m in dead}
    assert {i: dict(m.headers())["dead_letter_reason"] for i, m in by_index.items()} == {
        1: b"missing_user_and_device_id",
        2: b"not_an_object",
        4: b"event_too_large",
    }
    assert orjson.loads(by_index[1].value()) == {"event_type": "click"}
    assert by_index[2].value() == b'"nonsense"'
    assert int(dict(by_index[4].headers())["truncated_from_bytes"]) > 3000
    assert by_index[4].value().startswith(b'{"event_type"')
    assert {dict(m.headers())["request_id"] for m in dead} == {body["request_id"].encode()}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cre"}, {"X-Other": SECRET}],
)
async def test_bad_credentials_write_nothing(
    client: TestClient,
    headers: dict[str, str],
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    response = await client.post(URL, json={"events": [click("u", 1)]}, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ingest"'
    assert "Authorization" in (await response.json())["error"]
    assert SECRET not in await response.text()
    # A later, authorised request's event is the first and only one on the topic.
    ok = await client.post(URL, json=click("later", 1), headers={"Authorization": SECRET})
    assert ok.status == 200
    assert_only(topic_reader(kafka_settings.raw_topic), [b"later"])


def signed(body: bytes, key: bytes = b"signing-key", at: float | None = None) -> dict[str, str]:
    """The HMAC headers our own senders put on a request (ingest/signatures.py)."""
    timestamp = int(time.time() if at is None else at)
    return {
        "X-Signature-Timestamp": str(timestamp),
        "X-Signature-SHA256": sign(key, timestamp, body),
    }


def hmac_settings(kafka_settings: KafkaSettings, **extra: Any) -> IngestSettings:
    return IngestSettings(
        **kafka_settings.model_dump(),
        amplitude_webhook_secret=SECRET,
        ingest_secret_header="X-Webhook-Secret",
        ingest_hmac_secret="signing-key",
        **extra,
    )


async def test_custom_secret_header_and_hmac_signature(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    client = await serve(hmac_settings(kafka_settings))
    try:
        body = gzip.compress(orjson.dumps([click("signed", 1)]))
        good = {
            "X-Webhook-Secret": SECRET,
            **signed(body),
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
        unsigned = {k: v for k, v in good.items() if not k.startswith("X-Signature")}
        # The body's HMAC without the timestamp: what the HMAC mode accepted before.
        body_only = hmac.new(b"signing-key", body, hashlib.sha256).hexdigest()
        refused = [
            {**good, "X-Webhook-Secret": "nope"},
            {**good, "X-Signature-SHA256": "sha256=" + "0" * 64},
            {k: v for k, v in good.items() if k != "X-Signature-SHA256"},
            {k: v for k, v in good.items() if k != "X-Signature-Timestamp"},
            {**good, "X-Signature-Timestamp": str(int(time.time()) + 1)},  # not what was signed
            {**good, "X-Signature-Timestamp": "soon"},
            {**unsigned, "X-Signature-SHA256": body_only},
            {**{k: v for k, v in good.items() if k != "X-Webhook-Secret"}, **AUTH},
        ]
        for headers in refused:
            response = await client.post(URL, data=body, headers=headers)
            assert response.status == 401, headers
        tampered = gzip.compress(orjson.dumps([click("tampered", 1)]))
        response = await client.post(URL, data=tampered, headers=good)
        assert response.status == 401
        response = await client.post(URL, data=body, headers=good)
        assert response.status == 200, await response.text()
        assert_only(topic_reader(kafka_settings.raw_topic), [b"signed"])
    finally:
        await client.close()


async def test_stale_and_replayed_hmac_requests_answer_401_and_write_nothing(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    client = await serve(hmac_settings(kafka_settings, ingest_hmac_tolerance_seconds=60))
    try:
        headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
        for n, at in enumerate((time.time() - 61, time.time() + 61)):  # stale, and from ahead
            body = orjson.dumps([click("stale", n)])
            response = await client.post(URL, data=body, headers={**headers, **signed(body, at=at)})
            assert response.status == 401
            assert "tolerance" in (await response.json())["error"]

        body = orjson.dumps([click("once", 1)])
        captured = {**headers, **signed(body)}
        assert (await client.post(URL, data=body, headers=captured)).status == 200
        replayed = await client.post(URL, data=body, headers=captured)
        assert replayed.status == 401
        assert "replay" in (await replayed.json())["error"]
        # The same events signed afresh are a new request (the sender's own retry).
        assert (
            await client.post(
                URL, data=body, headers={**headers, **signed(body, at=time.time() + 1)}
            )
        ).status == 200
        assert_only(topic_reader(kafka_settings.raw_topic), [b"once", b"once"])
    finally:
        await client.close()


async def test_a_signed_request_that_was_not_written_may_be_sent_again(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    """A 4xx/5xx wrote nothing: the same signature is no replay (a sender retries a 503 as is)."""
    client = await serve(hmac_settings(kafka_settings, ingest_max_events=1))
    try:
        headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
        body = orjson.dumps([click("again", 1), click("again", 2)])  # over ingest_max_events
        captured = {**headers, **signed(body)}
        assert (await client.post(URL, data=body, headers=captured)).status == 413
        again = await client.post(URL, data=body, headers=captured)
        assert again.status == 413  # judged on its body again, not refused as a replay
        assert_only(topic_reader(kafka_settings.raw_topic), [])
    finally:
        await client.close()


async def test_unauthenticated_only_when_opted_in(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = IngestSettings(**kafka_settings.model_dump(), ingest_allow_unauthenticated=True)
    client = await serve(settings)
    try:
        warned = [r for r in caplog.records if "unauthenticated" in r.getMessage()]
        assert [r.levelname for r in warned] == ["WARNING"]
        response = await client.post(URL, json=click("anon", 1))
        assert response.status == 200
        assert_only(topic_reader(kafka_settings.raw_topic), [b"anon"])
    finally:
        await client.close()


async def test_malformed_and_unsupported_bodies_write_nothing(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b'{"events": [', JSON, 400, "malformed JSON"),
        (b'{"a": 1}\n{oops', {**AUTH, "Content-Type": "application/x-ndjson"}, 400, "line 2"),
        (b"not gzip", {**JSON, "Content-Encoding": "gzip"}, 400, "gzip"),
        (b'{"events": 3}', JSON, 400, "array"),
        (b"a=b", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}, 415, "Type"),
        (b"[]", {**JSON, "Content-Encoding": "br"}, 415, "Encoding"),
    ]
    for data, headers, status, message in cases:
        response = await client.post(URL, data=data, headers=headers)
        assert response.status == status, data
        answer = await response.json()
        assert message in answer["error"]
        assert answer["request_id"]
    ok = await client.post(URL, json=click("after", 1), headers=AUTH)
    assert ok.status == 200
    assert_only(topic_reader(kafka_settings.raw_topic), [b"after"])
    assert_only(topic_reader(kafka_settings.raw_dead_letter_topic), [])


async def test_limits_answer_413_and_write_nothing(
    client: TestClient,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    too_many = orjson.dumps([click("u", n) for n in range(6)])
    too_big = orjson.dumps([{**click("u", 1), "pad": "x" * 70_000}])
    bomb = gzip.compress(orjson.dumps([click("u", 1)]) + b" " * (5 * 1024 * 1024))
    assert len(bomb) < 64 * 1024

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 4096
        yield too_many

    for data, headers in [
        (too_many, JSON),
        (too_big, JSON),
        (gzip.compress(too_many), {**JSON, "Content-Encoding": "gzip"}),
        (bomb, {**JSON, "Content-Encoding": "gzip"}),
        (chunked(), JSON),
    ]:
        response = await client.post(URL, data=data, headers=headers)
        assert response.status == 413
        assert "limit" in (error := (await response.json())["error"]) or "bytes" in error
    ok = await client.post(URL, json=click("after", 1), headers=AUTH)
    assert ok.status == 200
    assert_only(topic_reader(kafka_settings.raw_topic), [b"after"])


async def test_probes_and_metrics_only_on_the_internal_listener(client: TestClient) -> None:
    internal = TestClient(TestServer(internal_app(client.app)))
    await internal.start_server()
    try:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert (await client.get(path)).status == 404, path  # not on the public port
        assert (await internal.get("/healthz")).status == 200
        assert (await internal.get("/readyz")).status == 200
        assert (await internal.post(URL, json=click("u", 1), headers=AUTH)).status == 404
        spec = await (await client.get("/openapi.json")).json()
        assert spec["paths"][URL]["post"]["responses"]["413"]
        await client.post(URL, json=click("u", 1), headers=AUTH)
        await client.post(URL, json=[{"event_type": "x"}], headers=AUTH)
        await client.post(URL, json=click("u", 1))
        text = await (await internal.get("/metrics")).text()
    finally:
        await internal.close()
    for name in (
        'ingest_requests_total{status="200"}',
        'ingest_requests_total{status="401"}',
        'ingest_events_total{outcome="accepted"}',
        'ingest_events_total{outcome="rejected"}',
        'ingest_events_total{outcome="dead_lettered"}',
        "ingest_request_duration_seconds_bucket",
        "ingest_request_body_bytes_bucket",
        "ingest_produce_errors_total",
        "ingest_requests_in_flight",
    ):
        assert name in text, name
    assert SECRET not in text


async def test_large_gzip_body_is_inflated_off_the_loop_and_written(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    settings = IngestSettings(**kafka_settings.model_dump(), amplitude_webhook_secret=SECRET)
    client = await serve(settings)
    try:
        events = [{**click(f"big{n}", n), "noise": os.urandom(60_000).hex()} for n in range(3)]
        body = gzip.compress(orjson.dumps(events))
        assert len(body) > 64 * 1024  # over the inline limit
        headers = {**JSON, "Content-Encoding": "gzip"}
        response = await client.post(URL, data=body, headers=headers)
        assert response.status == 200
        assert_only(topic_reader(kafka_settings.raw_topic), [b"big0", b"big1", b"big2"])
    finally:
        await client.close()


async def test_an_unexpected_error_is_a_counted_500_not_a_crash(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.app

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingest.app, "split_events", broken)
    response = await client.post(URL, json=click("u", 1), headers=AUTH)
    assert response.status == 500
    assert (await response.json())["error"] == "internal error; retry"
    text = generate_latest(REGISTRY).decode()  # this process's /metrics
    assert 'ingest_requests_total{status="500"}' in text
    assert "ingest_requests_in_flight 0.0" in text


async def test_an_event_kafka_would_refuse_is_rejected_alone(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader]
) -> None:
    """Under ingest's event limit, but with its key (the user id) over Kafka's message size:
    produced, it would fail the whole request with a 503, every retry. Rejected alone instead."""
    settings = IngestSettings(
        **{**kafka_settings.model_dump(), "kafka_message_max_bytes": 10_000},
        amplitude_webhook_secret=SECRET,
        ingest_max_event_bytes=9_000,
    )
    client = await serve(settings)
    try:
        # 7 KB of event (under the 9 KB event limit) + its 4 KB key: over the 10 KB message.
        wide = {**click("w" * 4_000, 1), "insert_id": "w-1", "pad": "p" * 3_000}
        events = [click("u1", 1), wide, click("u2", 2)]
        response = await client.post(URL, json={"events": events}, headers=AUTH)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["accepted"], body["errors"]) == (
            2,
            [{"index": 1, "reason": "event_too_large"}],
        )
    finally:
        await client.close()
    assert_only(topic_reader(kafka_settings.raw_topic), [b"u1", b"u2"])
    (dead,) = topic_reader(kafka_settings.raw_dead_letter_topic).read(1)
    assert dict(dead.headers())["dead_letter_reason"] == b"event_too_large"
    assert orjson.loads(dead.value())["pad"] == "p" * 3_000  # fits without its key: kept whole
