"""The recommendations API's default filter: the negative-feedback filter unless overridden."""

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Producer

from core.settings import KafkaSettings
from recommendations import create_app
from tests.fixtures.kafka_fixture import wait_for_async
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.integration.devtools.test_emulator_control_plane import client, group, send
from tests.integration.recommendations.test_app import get, settings_for, wait_for_ready


@pytest.fixture
async def api(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TestClient]:
    """The API with the emulator's negative-feedback filter as its default filter."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    filter_arn = client(personalize_emulator, "personalize").create_filter(
        name="exclude-negative",
        datasetGroupArn=group(personalize_emulator),
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("flag", "negative")',
    )["filterArn"]
    settings = settings_for(
        kafka_settings, personalize_emulator.url, aws_personalize_filter_arn=filter_arn
    )
    async with TestClient(TestServer(create_app(settings))) as api:
        await wait_for_ready(api)
        yield api


async def items(api: TestClient, path: str) -> list[str]:
    status, body = await get(api, path)
    assert status == 200, body
    return [item["item_id"] for item in body["items"]]


async def test_flagged_items_are_filtered_by_default_and_on_request_only(
    api: TestClient, personalize_emulator: RunningEmulator
) -> None:
    send(personalize_emulator, "fan", ("endorse", "x", 2.0), ("click", "y", 1.0))
    send(personalize_emulator, "critic", ("flag", "x", -2.5))
    assert await items(api, "/recommendations/critic") == ["y"]
    assert await items(api, "/recommendations/fan") == ["x", "y"]
    assert await items(api, "/recommendations/critic?filter_arn=") == ["x", "y"]  # no filter
    assert await items(api, "/similar-items/y") == ["x"]  # not filtered: no user to filter by


async def test_negative_feedback_drops_the_users_cached_answers(
    api: TestClient, personalize_emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    send(personalize_emulator, "fan", ("endorse", "x", 2.0))
    assert await items(api, "/recommendations/critic") == ["x"]
    assert (await get(api, "/recommendations/critic"))[1]["cached"] is True
    send(personalize_emulator, "critic", ("negative", "x", -0.5))  # the sink delivered a hide
    producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
    record = {"user_id": "critic", "weight": -0.5, "event_type": "hide", "item_id": "x"}
    producer.produce(kafka_settings.interactions_topic, orjson.dumps(record), b"critic")
    assert producer.flush(10) == 0

    async def fresh() -> bool:
        return (await get(api, "/recommendations/critic"))[1]["cached"] is False

    await wait_for_async(fresh, what="critic's cached answers dropped by a hide")
    assert await items(api, "/recommendations/critic") == []
