"""The sink against a real broker and the emulator: grouping, limits, dead letters, offsets."""

import threading
import uuid
from collections.abc import Callable, Iterator

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline.settings import KafkaSettings
from schemas import Interaction
from sinks import SinkSettings
from sinks.runner import PersonalizeSink
from tests.kafka_fixture import TopicReader, wait_for
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


def produce(settings: KafkaSettings, records: list[tuple[str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for key, value in records:
        producer.produce(settings.interactions_topic, value, key.encode())
    assert producer.flush(10) == 0


@pytest.fixture
def sink_settings(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> SinkSettings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return SinkSettings(
        **kafka_settings.model_dump(),
        sink_group_id=f"sink-{uuid.uuid4().hex[:8]}",
        aws_personalize_tracking_id="tracker-1",
        personalize_endpoint_url=personalize_emulator.url,
    )


@pytest.fixture
def running_sink(sink_settings: SinkSettings) -> Iterator[PersonalizeSink]:
    sink = PersonalizeSink(sink_settings)
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,))
    thread.start()
    yield sink
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def committed(settings: SinkSettings) -> int:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.sink_group_id}
    )
    try:
        partitions = [
            TopicPartition(settings.interactions_topic, p) for p in range(settings.topic_partitions)
        ]
        return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()


def test_calls_group_by_user_and_session_and_offsets_follow(
    running_sink: PersonalizeSink,
    sink_settings: SinkSettings,
    personalize_emulator: RunningEmulator,
) -> None:
    records = [("a", orjson.dumps(interaction("a", "s1", n).model_dump())) for n in range(12)]
    records += [("b", orjson.dumps(interaction("b", "s9", 100).model_dump()))]
    produce(sink_settings, records)

    calls = wait_for(
        lambda: (
            (c := personalize_emulator.put_events())
            and sum(len(x["eventList"]) for x in c) == 13
            and c
        ),
        what="13 events at the emulator",
    )
    shapes = sorted((c["userId"], c["sessionId"], len(c["eventList"])) for c in calls)
    assert shapes == [("a", "s1", 2), ("a", "s1", 10), ("b", "s9", 1)]
    a_items = [e["itemId"] for c in calls if c["userId"] == "a" for e in c["eventList"]]
    assert a_items == [f"i{n}" for n in range(12)]  # order within a user is kept
    first = calls[0]["eventList"][0]
    assert first["eventType"] == "click" and first["eventValue"] == 1.0
    assert first["eventId"] in {f"a-{n}" for n in range(12)} | {"b-100"}
    wait_for(lambda: committed(sink_settings) == 13, what="offsets committed after delivery")


def test_invalid_record_and_refused_event_are_dead_lettered_alone(
    running_sink: PersonalizeSink,
    sink_settings: SinkSettings,
    personalize_emulator: RunningEmulator,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    refused = interaction(
        "a", "s1", 2, recommendation_id="r" * 40, personalize_event_type="x" * 300
    )
    records = [
        ("a", orjson.dumps(interaction("a", "s1", 1).model_dump())),
        ("a", b"not an interaction"),
        ("a", orjson.dumps(refused.model_dump())),  # eventType over 256: PutEvents refuses it
        ("a", orjson.dumps(interaction("a", "s1", 3).model_dump())),
    ]
    produce(sink_settings, records)
    dead = topic_reader(sink_settings.interactions_dead_letter_topic).read(2)
    reasons = sorted(dict(m.headers())["dead_letter_reason"].decode() for m in dead)
    assert reasons[0].startswith("InvalidInputException: ")
    assert "eventType: length 300 is above the maximum 256" in reasons[0]
    assert reasons[1].startswith("invalid_interaction")

    def delivered() -> list[str]:
        calls = personalize_emulator.put_events()
        return sorted(e["itemId"] for c in calls for e in c["eventList"])

    wait_for(lambda: delivered() == ["i1", "i3"], what="the two good events delivered")
    wait_for(lambda: committed(sink_settings) == 4, what="all four offsets committed")
