"""The Faust worker against a real broker: weights, filtering and dead letters, end to end."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from pipeline.broker import free_port
from pipeline.settings import KafkaSettings
from tests.kafka_fixture import TopicReader, topic_env
from tests.service_process import ServiceProcess
from tests.unit.test_rules import SEED_WEIGHTS


@pytest.fixture
def streams_worker(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    port = free_port()
    env = {
        **topic_env(kafka_settings),
        "STREAMS_APP_ID": f"weigher-{uuid.uuid4().hex[:8]}",
        "STREAMS_WEB_PORT": str(port),
        "STREAMS_DATA_DIR": str(tmp_path / "faust"),
    }
    worker = ServiceProcess(
        "streams", env, f"http://127.0.0.1:{port}/readyz", tmp_path / "streams.log"
    ).start()
    yield worker
    worker.stop()


def produce(settings: KafkaSettings, events: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for key, value in events:
        producer.produce(settings.raw_topic, value, key)
    assert producer.flush(10) == 0


def raw(event_type: str, user: str, n: int, **props: object) -> tuple[bytes, bytes]:
    event = {
        "event_type": event_type,
        "user_id": user,
        "session_id": 1700000000000,
        "time": 1700000000000 + n,
        "insert_id": f"{user}-{n}",
        "event_properties": {"item_id": f"item-{n}", **props},
    }
    return user.encode(), orjson.dumps(event)


def test_every_weight_in_the_table_end_to_end(
    streams_worker: ServiceProcess,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    names = sorted(SEED_WEIGHTS)
    produce(kafka_settings, [raw(name, "u1", n) for n, name in enumerate(names)])
    messages = topic_reader(kafka_settings.interactions_topic).read(len(names))
    weights = {}
    for message in messages:
        assert message.key() == b"u1"
        record = orjson.loads(message.value())
        assert record["schema_version"] == 1
        weights[names[int(record["item_id"].removeprefix("item-"))]] = record["weight"]
    assert weights == SEED_WEIGHTS


def test_filtered_and_dead_lettered_events(
    streams_worker: ServiceProcess,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    no_item = orjson.dumps({"event_type": "click", "user_id": "u2", "event_properties": {}})
    produce(
        kafka_settings,
        [
            raw("page_view", "u2", 1),  # not in the table: filtered
            (b"u2", b'{"event_type": "cli'),  # malformed JSON
            (b"u2", no_item),  # in the table, no item id
            raw("upvote", "u2", 4),  # the sentinel: after the others on the partition
        ],
    )
    interactions = topic_reader(kafka_settings.interactions_topic).read(1)
    dead = topic_reader(kafka_settings.raw_dead_letter_topic).read(2)
    # Same key, same partition, in order: once the sentinel is out, page_view was handled.
    assert [orjson.loads(m.value())["event_type"] for m in interactions] == ["upvote"]
    reasons = {dict(m.headers())["dead_letter_reason"]: m.value() for m in dead}
    assert reasons == {b"undecodable_json": b'{"event_type": "cli', b"missing_item_id": no_item}
