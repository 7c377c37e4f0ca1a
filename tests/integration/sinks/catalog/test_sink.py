"""The users sink against the real broker and the emulator: coalescing, the 10 calls/s quota
as the emulator saw it, a refused record dead-lettered, a killed sink restarted."""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from schemas.catalog import ItemRecord, catalog_encoder
from sinks.catalog import CatalogSinkSettings, kinds
from sinks.catalog.sink import CatalogSink
from tests.fixtures.catalog_helpers import (
    catalog_env,
    catalog_settings,
    committed_users,
    latest_properties,
    produce_users,
    put_calls,
    user,
)
from tests.fixtures.kafka_fixture import TopicReader, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.service_process import ServiceProcess

StartSink = Callable[..., CatalogSinkSettings]


@pytest.fixture
def start_sink(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StartSink]:
    """Start an in-process users sink with setting overrides; wait until it holds partitions."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(**overrides: object) -> CatalogSinkSettings:
        settings = catalog_settings(kafka_settings, personalize_emulator, **overrides)
        sink = CatalogSink(settings, kinds.users(settings))
        stop = threading.Event()
        thread = threading.Thread(target=sink.run, args=(stop,))
        thread.start()
        running.append((stop, thread))
        wait_for(lambda: sink.ready, what="the users sink holding partitions")
        return settings

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(60)
        assert not thread.is_alive()


def test_a_thousand_updates_of_one_user_within_the_window_are_a_handful_of_records(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    settings = start_sink(catalog_sink_window_seconds=3.0)
    updates = [user("u1", n, COUNTRY=f"c{n}", AGE=n) for n in range(1000)]
    for burst in range(20):  # spread over ~1 s, so that the sink reads them in many polls
        produce_users(settings, updates[burst * 50 : (burst + 1) * 50])
        time.sleep(0.05)  # the load's shape (no condition to wait for)

    wait_for(
        lambda: (
            latest_properties(personalize_emulator).get("u1") == {"country": "c999", "age": 999}
        ),
        what="u1's newest state at the emulator",
    )
    wait_for(lambda: committed_users(settings) == 1000, what="all 1000 offsets committed")
    records = [e for c in put_calls(personalize_emulator) for e in c["body"]["users"]]
    assert 1 <= len(records) <= 3, len(records)
    assert all(
        c["body"]["datasetArn"] == settings.users_dataset_arn
        for c in put_calls(personalize_emulator)
    )


def test_at_ten_calls_a_second_5000_updates_of_2000_users_all_arrive_within_the_quota(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    settings = start_sink(
        catalog_sink_window_seconds=0.5, catalog_sink_rate_limit_calls_per_second=10
    )
    updates = [user(f"u{n % 2000}", n, SCORE=n) for n in range(5000)]
    expected = {u.user_id: {"score": u.updated_at_ms - 1_700_000_000_000} for u in updates}
    produce_users(settings, updates)  # the last update of each user wins

    wait_for(
        lambda: latest_properties(personalize_emulator) == expected,
        timeout=120,
        what="every user's latest state at the emulator",
    )
    wait_for(lambda: committed_users(settings) == 5000, what="all 5000 offsets committed")
    calls = put_calls(personalize_emulator)
    assert all(1 <= len(c["body"]["users"]) <= 10 for c in calls)
    arrivals = sorted(c["arrivedAt"] for c in calls)
    crowded = [
        (k, arrivals[k + 10] - arrivals[k])
        for k in range(len(arrivals) - 10)
        if arrivals[k + 10] - arrivals[k] < 1.0
    ]
    assert not crowded, f"11 calls within a second: {crowded[:5]}"
    assert len(calls) >= 200  # 2000 users, 10 a call: the quota was the bound
    print(f"{len(calls)} calls in {arrivals[-1] - arrivals[0]:.1f} s")


def test_a_refused_record_is_dead_lettered_and_the_rest_delivered(
    start_sink: StartSink, personalize_emulator: RunningEmulator, kafka_bootstrap: str
) -> None:
    # Personalize refuses any call holding u7 (the emulator's fault): halving isolates it.
    personalize_emulator.set_faults(error_code="InvalidInputException", error_user_id="u7")
    settings = start_sink(catalog_sink_window_seconds=0.2)
    records: list = [user(f"u{n}", n, COUNTRY="de") for n in range(20)]
    records[3] = user("u3", 3, BIO="x" * 30_000)  # properties above PutUsers' 24,000 characters
    records.append(b'{"user_id": "no fields"}')  # not a user record at all
    produce_users(settings, records)

    reader = TopicReader(kafka_bootstrap, settings.users_dead_letter_topic)
    try:
        letters = reader.read(3)
    finally:
        reader.close()
    reasons = {
        orjson.loads(m.value()).get("user_id", "?"): dict(m.headers())[
            "dead_letter_reason"
        ].decode()
        for m in letters
    }
    assert reasons["u7"] == "InvalidInputException: injected by the emulator", reasons
    assert reasons["u3"] == (
        "invalid_record: user.properties: length 30010 is above the maximum 24000"
    )
    assert reasons["no fields"].startswith("invalid_record: ")
    assert all(dict(m.headers())["stage"] == b"users-sink" for m in letters)
    wait_for(lambda: committed_users(settings) == 21, what="all 21 offsets committed")
    delivered = latest_properties(personalize_emulator)
    assert set(delivered) == {f"u{n}" for n in range(20) if n not in (3, 7)}


def test_a_killed_sink_restarted_loses_nothing(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = catalog_settings(
        kafka_settings, personalize_emulator, catalog_sink_window_seconds=0.3
    )
    port = free_port()
    env = catalog_env(settings, port)
    updates = [user(f"u{n % 1000}", n, SCORE=n) for n in range(3000)]
    expected = {u.user_id: {"score": u.updated_at_ms - 1_700_000_000_000} for u in updates}
    produce_users(settings, updates)

    def sink() -> ServiceProcess:
        return ServiceProcess(
            "users-sink", env, f"http://127.0.0.1:{port}/readyz", tmp_path / "users-sink.log"
        )

    first = sink().start()
    try:
        wait_for(lambda: len(put_calls(personalize_emulator)) >= 20, what="20 calls delivered")
    finally:
        first.kill()  # SIGKILL: no commit
    at_kill = len(latest_properties(personalize_emulator))
    assert at_kill < 1000, "the sink finished before it was killed: nothing tested"
    assert committed_users(settings) < 3000

    second = sink().start()
    try:
        wait_for(
            lambda: latest_properties(personalize_emulator) == expected,
            timeout=120,
            what="every user's latest state after the restart",
        )
        wait_for(lambda: committed_users(settings) == 3000, what="all offsets committed")
    finally:
        second.stop()
    print(f"killed with {at_kill}/1000 users delivered")


def test_the_items_sink_sends_each_items_newest_metadata_with_put_items(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = catalog_settings(
        kafka_settings, personalize_emulator, catalog_sink_window_seconds=0.5
    )
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for n, category in enumerate(["hats", "shoes|sale"]):
        record = ItemRecord(item_id="i1", fields={"CATEGORY": category}, updated_at_ms=n)
        producer.produce(settings.items_topic, catalog_encoder.encode(record), b"i1")
    producer.produce(settings.items_topic, None, b"i2")  # a tombstone: skipped
    assert producer.flush(30) == 0
    sink = CatalogSink(settings, kinds.items(settings))
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,))
    thread.start()
    try:
        calls = wait_for(lambda: put_calls(personalize_emulator, "items"), what="a PutItems call")
        assert calls[0]["body"] == {
            "datasetArn": settings.items_dataset_arn,
            "items": [{"itemId": "i1", "properties": '{"category":"shoes|sale"}'}],
        }
        partitions = [TopicPartition(settings.items_topic, p) for p in range(3)]

        def committed() -> int:
            consumer = Consumer(
                {
                    "bootstrap.servers": settings.kafka_bootstrap_servers,
                    "group.id": settings.items_sink_group_id,
                }
            )
            try:
                return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, 10))
            finally:
                consumer.close()

        wait_for(lambda: committed() == 3, what="the items' offsets committed")
        assert len(put_calls(personalize_emulator, "items")) == 1
    finally:
        stop.set()
        thread.join(60)
