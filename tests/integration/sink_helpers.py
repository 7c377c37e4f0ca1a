"""Helpers the sink's integration tests share: interactions, producing them, committed offsets."""

import uuid

import orjson
import pytest
from confluent_kafka import Producer

from pipeline.settings import KafkaSettings
from schemas import Interaction
from sinks import SinkSettings
from tests.kafka_fixture import committed_total
from tests.personalize_fixture import RunningEmulator


def interaction(user: str, session: str, n: int, **fields: object) -> Interaction:
    values: dict[str, object] = {
        "event_id": f"{user}-{n}",
        "user_id": user,
        "session_id": session,
        "item_id": f"i{n}",
        "event_type": "click",
        "personalize_event_type": "click",
        "weight": 1.0,
        "timestamp_ms": 1700000000000 + n,
    }
    values.update(fields)
    return Interaction.model_validate(values)


def record(value: Interaction) -> tuple[str, bytes]:
    return value.key, orjson.dumps(value.model_dump())


def produce(
    settings: KafkaSettings, records: list[tuple[str, bytes]], partition: int | None = None
) -> None:
    """To the interactions topic, partitioned by key (or all to `partition`)."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    where = {} if partition is None else {"partition": partition}
    for key, value in records:
        producer.produce(settings.interactions_topic, value, key.encode(), **where)
    assert producer.flush(30) == 0


def sink_settings_for(
    kafka_settings: KafkaSettings, emulator: RunningEmulator, **overrides: object
) -> SinkSettings:
    values: dict[str, object] = {
        **kafka_settings.model_dump(),
        "sink_group_id": f"sink-{uuid.uuid4().hex[:8]}",
        "aws_personalize_tracking_id": "tracker-1",
        "personalize_endpoint_url": emulator.url,
        "sink_linger_seconds": 0.3,
        "sink_fatal_retry_seconds": 1.0,
        "sink_backoff_base_seconds": 0.05,
        "sink_backoff_max_seconds": 1.0,
    }
    values.update(overrides)
    return SinkSettings.model_validate(values)


def client_settings(monkeypatch: pytest.MonkeyPatch, url: str, **values: object) -> SinkSettings:
    """The sink's settings for a PutEvents endpoint at `url`, credentials in the environment:
    what `build_client` needs, without Kafka."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return SinkSettings.model_validate(
        {"aws_personalize_tracking_id": "t1", "personalize_endpoint_url": url, **values}
    )


def committed(settings: SinkSettings) -> int:
    """Sum over partitions of the sink group's committed offsets (0 where none)."""
    return committed_total(settings, settings.sink_group_id)


def delivered_ids(emulator: RunningEmulator) -> list[str]:
    return [e["eventId"] for c in emulator.put_events() for e in c["eventList"]]
