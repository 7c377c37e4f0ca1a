"""A local run on a shared cluster leaves production alone: with production's topics, events
and committed offsets already there, a whole `LocalStack` run (as `make run` with
KAFKA_BOOTSTRAP_SERVERS set) neither reads production's events nor moves its groups' offsets,
and writes nothing to its topics."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from core.kafka import ensure_topics, producer_config
from core.settings import KafkaSettings
from devtools.stack import LocalStack, Ports
from schemas import Interaction
from sinks.history.settings import HistorySettings
from sinks.personalize.settings import SinkSettings
from streams.settings import StreamsSettings
from tests.e2e.test_pipeline import post, put_events, seed_event
from tests.fixtures.kafka_fixture import TopicReader, wait_for

RUN = uuid.uuid4().hex[:6]
PRODUCTION_USER = f"production-user-{RUN}"
LOCAL_USER = f"local-user-{RUN}"


def production_groups(kafka: KafkaSettings) -> dict[str, str]:
    """Each production consumer group (the services' defaults) -> the topic it reads."""
    return {
        StreamsSettings.model_fields["streams_app_id"].default: kafka.raw_topic,
        SinkSettings.model_fields["sink_group_id"].default: kafka.interactions_topic,
        HistorySettings.model_fields["history_group_id"].default: kafka.interactions_topic,
    }


def partitions(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"meta-{uuid.uuid4().hex}"})
    try:
        return sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> list[int]:
    """`group`'s committed offset on each partition of `topic` (read without joining it)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        wanted = [TopicPartition(topic, p) for p in partitions(bootstrap, topic)]
        return [tp.offset for tp in consumer.committed(wanted, timeout=10)]
    finally:
        consumer.close()


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """Commit `offset` on partition 0 for `group`, as a running production consumer had."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def contents(bootstrap: str, topic: str) -> list[bytes]:
    """Every record of `topic`, read up to its end."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        total = sum(
            high - low
            for low, high in (
                probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in partitions(bootstrap, topic)
            )
        )
    finally:
        probe.close()
    reader = TopicReader(bootstrap, topic)
    try:
        return [m.value() for m in reader.read(total)] if total else []
    finally:
        reader.close()


@pytest.fixture
def production(kafka_bootstrap: str) -> Iterator[KafkaSettings]:
    """Production's topics (the default names) with events in them and committed offsets:
    on partition 0, two records each, the first consumed and committed by each group."""
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    ensure_topics(kafka)
    interaction = Interaction(
        event_id=f"prod-{RUN}",
        user_id=PRODUCTION_USER,
        session_id="1",
        item_id="item-prod",
        event_type="click",
        personalize_event_type="click",
        weight=1.0,
        timestamp_ms=1_700_000_000_000,
    )
    producer = Producer(producer_config(kafka))
    first: dict[str, int] = {}  # topic -> offset of the first of our two records

    def note(error: object, message: Message) -> None:
        assert error is None, error
        first.setdefault(message.topic(), message.offset())

    for n in range(2):
        raw = seed_event("click", PRODUCTION_USER, "item-prod", n)
        producer.produce(kafka.raw_topic, orjson.dumps(raw), partition=0, on_delivery=note)
        producer.flush(30)
        value = interaction.model_copy(update={"event_id": f"prod-{RUN}-{n}"}).model_dump_json()
        producer.produce(kafka.interactions_topic, value, partition=0, on_delivery=note)
        producer.flush(30)
    assert producer.flush(30) == 0 and len(first) == 2
    for group, topic in production_groups(kafka).items():
        commit(kafka_bootstrap, group, topic, first[topic] + 1)  # the second is still to read
    yield kafka


def test_a_local_run_on_a_shared_cluster_leaves_production_alone(
    production: KafkaSettings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    offsets_before = {
        group: committed(kafka_bootstrap, group, topic)
        for group, topic in production_groups(production).items()
    }
    assert all(max(offsets) > 0 for offsets in offsets_before.values())
    topics_before = {t: contents(kafka_bootstrap, t) for t in production.all_topics}

    stack = LocalStack(
        ports=Ports.free(),
        bootstrap=kafka_bootstrap,
        log_dir=tmp_path / "logs",
        history_dir=tmp_path / "history",
    )
    try:
        stack.start(timeout=90)
        assert set(stack.kafka.all_topics).isdisjoint(production.all_topics)
        post(stack, {"events": [seed_event("click", LOCAL_USER, "item-local", 1)]})

        def delivered_users() -> set[str]:
            return {call.get("userId") for call in put_events(stack)}

        # The run works: its own event went all the way to its emulator, through its topics.
        wait_for(lambda: LOCAL_USER in delivered_users(), 60, "the local event at the emulator")
        local = contents(kafka_bootstrap, stack.kafka.interactions_topic)
        assert [orjson.loads(v)["user_id"] for v in local] == [LOCAL_USER]
        assert PRODUCTION_USER not in delivered_users()
    finally:
        stack.stop()  # a graceful stop: every service commits what it has done

    for group, topic in production_groups(production).items():
        assert committed(kafka_bootstrap, group, topic) == offsets_before[group], group
    for topic in production.all_topics:
        assert contents(kafka_bootstrap, topic) == topics_before[topic], topic
