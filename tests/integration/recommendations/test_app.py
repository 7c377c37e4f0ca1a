"""The recommendations API against the emulator and a real broker (for cache invalidation)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Producer
from prometheus_client import REGISTRY, generate_latest

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from devtools.stack import DEV_CAMPAIGN_ARN, DEV_SIMS_CAMPAIGN_ARN
from recommendations import RecommendationsSettings, create_app
from recommendations.app import internal_app
from recommendations.invalidation import InvalidationListener
from tests.fixtures.kafka_fixture import wait_for, wait_for_async
from tests.fixtures.personalize_fixture import RunningEmulator

SENT_AT = datetime(2024, 1, 1, tzinfo=UTC)
# Two tokens at once: the old one and its replacement, during a rotation.
TOKENS = [
    "old-token-0123456789abcdefghijklmnopqrstuv",
    "new-token-0123456789abcdefghijklmnopqrstuv",
]
BEARER = {"Authorization": f"Bearer {TOKENS[0]}"}
FILTER_ARN = "arn:aws:personalize:us-east-1:000000000000:filter/exclude-purchased"


def history(emulator: RunningEmulator, user: str, items: dict[str, float]) -> None:
    events = [
        {"eventType": "click", "itemId": item, "eventValue": value, "sentAt": SENT_AT}
        for item, value in items.items()
    ]
    emulator.client().put_events(trackingId="t", userId=user, sessionId="s", eventList=events)


def settings_for(kafka: KafkaSettings, runtime_url: str, **extra: Any) -> RecommendationsSettings:
    values: dict[str, Any] = {
        **kafka.model_dump(),
        "personalize_runtime_endpoint_url": runtime_url,
        "aws_personalize_campaign_arn": DEV_CAMPAIGN_ARN,
        "aws_personalize_sims_campaign_arn": DEV_SIMS_CAMPAIGN_ARN,
        "recommendations_cache_ttl_seconds": 300,
        "recommendations_api_tokens": TOKENS,
        "recommendations_filter_arns": [FILTER_ARN, "not-an-arn"],
        "recommendations_context_keys": ["DEVICE"],
    }
    values.update(extra)
    return RecommendationsSettings(**values)


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TestClient]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    app = create_app(settings_for(kafka_settings, personalize_emulator.url))
    async with TestClient(TestServer(app)) as client:
        await wait_for_ready(client)
        yield client


async def wait_for_ready(client: TestClient) -> None:
    """Ready (on the internal listener) once the invalidation listener holds its partitions."""
    async with TestClient(TestServer(internal_app(client.app))) as internal:

        async def ready() -> bool:
            return (await internal.get("/readyz")).status == 200

        await wait_for_async(ready, what="recommendations ready")


async def get(
    client: TestClient, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.get(path, headers=BEARER if headers is None else headers)
    return response.status, await response.json()


async def test_recommendations_come_from_personalize_then_the_cache(
    client: TestClient, personalize_emulator: RunningEmulator
) -> None:
    history(personalize_emulator, "alice", {"i1": 2.0, "i2": 1.0})
    history(personalize_emulator, "bob", {"i1": 1.0, "i3": 3.0})

    status, body = await get(client, "/recommendations/alice?num_results=5")
    assert status == 200
    # No solution at the emulator: every event counts the same (eventValue is not a weight), and
    # as in Personalize what alice already interacted with can come back (filters exclude it).
    assert [item["item_id"] for item in body["items"]] == ["i1", "i2", "i3"]
    assert body["recommendation_id"].startswith("RID-") and body["cached"] is False
    status, again = await get(client, "/recommendations/alice?num_results=5")
    assert (status, again["cached"], again["recommendation_id"]) == (
        200,
        True,
        body["recommendation_id"],
    )

    status, similar = await get(client, "/similar-items/i1")
    assert status == 200
    assert [item["item_id"] for item in similar["items"]] == ["i2", "i3"]  # one user each


async def test_strong_interaction_invalidates_only_its_user(
    client: TestClient, personalize_emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    history(personalize_emulator, "carol", {"i1": 1.0})
    for user in ("carol", "dave"):
        assert (await get(client, f"/recommendations/{user}"))[1]["cached"] is False
        assert (await get(client, f"/recommendations/{user}"))[1]["cached"] is True

    producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
    # Same key, so the same partition and this order: dave's weak click, then carol's donation.
    for user, weight in (("dave", 1.0), ("carol", 3.0)):
        record = {"user_id": user, "weight": weight, "event_type": "x", "item_id": "i9"}
        producer.produce(kafka_settings.interactions_topic, orjson.dumps(record), b"same-key")
    assert producer.flush(10) == 0

    async def carol_fresh() -> bool:
        return (await get(client, "/recommendations/carol"))[1]["cached"] is False

    await wait_for_async(carol_fresh, what="carol's cached answers invalidated")
    assert (await get(client, "/recommendations/dave"))[1]["cached"] is True  # 1.0 < 1.5
    metrics = generate_latest(REGISTRY).decode()  # this process's /metrics
    assert 'recommendations_cache_lookups_total{result="hit"}' in metrics


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/recommendations/u?num_results=0", 400, "between 1 and 500"),
        ("/recommendations/u?num_results=ten", 400, "whole number"),
        ("/recommendations/u?context=[1]", 400, "JSON object"),
        ("/recommendations/u?filter_values={}", 200, ""),
        ('/recommendations/u?filter_values={"a":"b"}', 400, "needs filter_arn"),
        ("/recommendations/u?filter_arn=not-an-arn", 400, "Personalize refused"),
        (f"/recommendations/u?filter_arn={FILTER_ARN}x", 400, "RECOMMENDATIONS_FILTER_ARNS"),
        (
            "/recommendations/u?filter_arn=arn:aws:personalize:us-east-1:1:filter/other",
            400,
            "RECOMMENDATIONS_FILTER_ARNS",
        ),
        ('/similar-items/i1?context={"DEVICE":"phone","REGION":"x"}', 400, "['REGION']"),
        ('/recommendations/u?context={"DEVICE":"phone"}', 200, ""),
    ],
)
async def test_bad_parameters(client: TestClient, path: str, status: int, message: str) -> None:
    got, body = await get(client, path)
    assert got == status
    assert message in body.get("error", "")


async def test_unknown_campaign_is_404_and_unreachable_aws_is_503(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    unknown = settings_for(
        kafka_settings,
        personalize_emulator.url,
        aws_personalize_campaign_arn="arn:aws:personalize:us-east-1:1:campaign/nope",
    )
    async with TestClient(TestServer(create_app(unknown))) as client:
        status, body = await get(client, "/recommendations/u")
        assert (status, body["error"].startswith("unknown campaign")) == (404, True)
    unreachable = settings_for(kafka_settings, f"http://127.0.0.1:{free_port()}")
    async with TestClient(TestServer(create_app(unreachable))) as client:
        status, body = await get(client, "/recommendations/u")
        assert (status, body["error"]) == (503, "Personalize unreachable: EndpointConnectionError")
    no_sims = settings_for(
        kafka_settings, personalize_emulator.url, aws_personalize_sims_campaign_arn=None
    )
    async with TestClient(TestServer(create_app(no_sims))) as client:
        status, body = await get(client, "/similar-items/i1")
        assert (status, body["error"]) == (
            404,
            "no campaign configured (AWS_PERSONALIZE_SIMS_CAMPAIGN_ARN)",
        )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdefghijklmnopqrs"},
        {"Authorization": f"Bearer {TOKENS[0][:-1]}"},
        {"Authorization": f"Basic {TOKENS[0]}"},
        {"Authorization": TOKENS[0]},
        {"X-Api-Key": TOKENS[0]},
    ],
    ids=["none", "wrong", "truncated", "basic", "no scheme", "other header"],
)
async def test_without_or_with_a_wrong_token_401_and_no_call(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    import recommendations.app

    calls: list[object] = []
    real = recommendations.app.get_recommendations
    monkeypatch.setattr(
        recommendations.app, "get_recommendations", lambda *a: calls.append(a) or real(*a)
    )
    assert (await get(client, "/recommendations/eve?num_results=3"))[0] == 200
    assert len(calls) == 1  # the spy sees the calls an authorised request makes
    for path in ("/recommendations/eve", "/similar-items/i1"):
        response = await client.get(path, headers=headers)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="recommendations"'
        assert "bearer token" in (await response.json())["error"]
        assert TOKENS[0] not in await response.text()
    assert len(calls) == 1  # Personalize was not asked again


async def test_every_listed_token_works_so_one_can_be_rotated(client: TestClient) -> None:
    for token in TOKENS:
        status, _ = await get(client, "/recommendations/u", {"Authorization": f"Bearer {token}"})
        assert status == 200
    status, _ = await get(client, "/recommendations/u", {"Authorization": f"bearer {TOKENS[1]}"})
    assert status == 200  # the scheme is case-insensitive (RFC 9110)


async def test_metrics_and_probes_are_not_on_the_public_port(client: TestClient) -> None:
    for path in ("/metrics", "/readyz", "/healthz"):
        assert (await client.get(path, headers=BEARER)).status == 404, path
    async with TestClient(TestServer(internal_app(client.app))) as internal:
        assert (await internal.get("/healthz")).status == 200
        text = await (await internal.get("/metrics")).text()
        assert "recommendations_requests_total" in text
        assert (await internal.get("/recommendations/u", headers=BEARER)).status == 404


def test_the_invalidation_listener_waits_for_its_topic_and_then_listens(
    kafka_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """Started before the interactions topic exists (a fresh cluster, topics not created yet):
    not assigned, so the service not ready, until the topic is there; then it invalidates."""
    late = kafka_settings.model_copy(update={"interactions_topic": f"late-{uuid.uuid4().hex}"})
    invalidated: list[str] = []
    listener = InvalidationListener(settings_for(late, "http://127.0.0.1:1"), invalidated.append)
    listener.start()
    try:
        wait_for(
            lambda: "cache invalidation listener failed" in caplog.text, 30, "a failed attempt"
        )
        assert not listener.assigned.is_set()
        ensure_topics(late)
        wait_for(listener.assigned.is_set, 60, "the listener assigned once the topic exists")
        producer = Producer({"bootstrap.servers": late.kafka_bootstrap_servers})
        record = {"user_id": "erin", "weight": 3.0, "event_type": "x", "item_id": "i9"}
        producer.produce(late.interactions_topic, orjson.dumps(record), b"erin")
        assert producer.flush(10) == 0
        wait_for(lambda: invalidated == ["erin"], 30, "erin's answers invalidated")
    finally:
        listener.stop()
