"""The sink against a real broker and the emulator: grouping, linger, limits, dead letters,
faults (throttling, 5xx, unknown tracker), offsets following delivery, dry run, the delivery
log."""

import threading
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic
from prometheus_client import REGISTRY

from core.kafka import admin_client, create_topics, describe_topic
from core.settings import KafkaSettings
from sinks.personalize import SinkSettings
from sinks.personalize.sink import PersonalizeSink
from tests.fixtures.kafka_fixture import TopicReader, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.sink_helpers import (
    committed,
    delivered_ids,
    interaction,
    produce,
    record,
    sink_settings_for,
)

StartSink = Callable[..., tuple[PersonalizeSink, SinkSettings]]


@pytest.fixture
def start_sink(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StartSink]:
    """Start an in-process sink with setting overrides; wait until it holds partitions."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(**overrides: object) -> tuple[PersonalizeSink, SinkSettings]:
        settings = sink_settings_for(kafka_settings, personalize_emulator, **overrides)
        sink = PersonalizeSink(settings)
        stop = threading.Event()
        thread = threading.Thread(target=sink.run, args=(stop,))
        thread.start()
        running.append((stop, thread))
        wait_for(lambda: sink.ready, what="the sink holding partitions")
        return sink, settings

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(60)
        assert not thread.is_alive()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_calls_group_by_user_and_session_and_offsets_follow(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    _, settings = start_sink()
    records = [record(interaction("a", "s1", n)) for n in range(12)]
    records += [record(interaction("b", "s9", 100)), record(interaction("a", "s2", 200))]
    produce(settings, records)

    calls = wait_for(
        lambda: (
            (c := personalize_emulator.put_events())
            and sum(len(x["eventList"]) for x in c) == 14
            and c
        ),
        what="14 events at the emulator",
    )
    shapes = sorted((c["userId"], c["sessionId"], len(c["eventList"])) for c in calls)
    assert shapes == [("a", "s1", 2), ("a", "s1", 10), ("a", "s2", 1), ("b", "s9", 1)]
    a_items = [e["itemId"] for c in calls if c["sessionId"] == "s1" for e in c["eventList"]]
    assert a_items == [f"i{n}" for n in range(12)]  # order within a session is kept
    first = calls[0]["eventList"][0]
    assert first["eventType"] == "click" and first["eventValue"] == 1.0
    assert sorted(delivered_ids(personalize_emulator)) == sorted(
        [f"a-{n}" for n in range(12)] + ["b-100", "a-200"]
    )
    wait_for(lambda: committed(settings) == 14, what="offsets committed after delivery")


def test_a_group_waits_for_the_linger_then_goes_as_one_call(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    _, settings = start_sink(sink_linger_seconds=1.0)
    produced = time.monotonic()
    produce(settings, [record(interaction("u", "s", n)) for n in range(3)])
    calls = wait_for(personalize_emulator.put_events, what="the lingered call")
    waited = time.monotonic() - produced
    assert [len(c["eventList"]) for c in calls] == [3]
    assert waited >= 1.0  # not before the oldest event waited the linger


def test_calls_stay_under_the_rate_limit(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    rate, calls = 20, 60  # a burst of 1 token (rate / 20) on top of the steady rate
    _, settings = start_sink(sink_rate_limit_calls_per_second=rate, sink_linger_seconds=0)
    produced = time.monotonic()
    produce(settings, [record(interaction(f"user-{n}", "s", n)) for n in range(calls)])
    wait_for(lambda: len(personalize_emulator.put_events()) == calls, timeout=30, what="every call")
    took = time.monotonic() - produced
    assert took >= (calls - 2) / rate  # 60 calls at 20/s: the first 2 free, then 1 per 50 ms
    assert took < 2 * calls / rate  # and the limiter does not starve the sink


def test_invalid_record_and_over_limit_event_are_dead_lettered_alone(
    start_sink: StartSink,
    personalize_emulator: RunningEmulator,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    _, settings = start_sink()
    too_long = interaction("a", "s1", 2, personalize_event_type="x" * 300)
    too_many = interaction("a", "s1", 4, impression=[f"i{n}" for n in range(25)])
    records = [
        record(interaction("a", "s1", 1)),
        ("a", b"not an interaction"),
        record(too_long),  # eventType over 256: PutEvents would refuse it, never sent
        record(too_many),  # 25 impressions: the limit, still valid
        record(interaction("a", "s1", 3)),
    ]
    produce(settings, records)
    dead = topic_reader(settings.interactions_dead_letter_topic).read(2)
    reasons = sorted(dict(m.headers())["dead_letter_reason"].decode() for m in dead)
    assert reasons[0].startswith("invalid_interaction")
    assert reasons[1].startswith("put_events_limits: ")
    assert "eventType: length 300 is above the maximum 256" in reasons[1]
    wait_for(
        lambda: sorted(delivered_ids(personalize_emulator)) == ["a-1", "a-3", "a-4"],
        what="the three good events delivered",
    )
    wait_for(lambda: committed(settings) == 5, what="all five offsets committed")
    assert personalize_emulator.stats()["invalid"] == 0  # nothing invalid reached "AWS"


def test_event_refused_by_personalize_is_found_by_splitting_and_dead_lettered_alone(
    start_sink: StartSink,
    personalize_emulator: RunningEmulator,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    # The tracker's dataset takes 10 event types; an 11th passes every field limit, so only
    # Personalize can refuse it (InvalidInputException), and it refuses the whole call.
    _, settings = start_sink()
    types = [interaction("w", "warm", n, personalize_event_type=f"t{n}") for n in range(10)]
    produce(settings, [record(i) for i in types])
    wait_for(lambda: len(delivered_ids(personalize_emulator)) == 10, what="10 types known")
    batch = [interaction("p", "s", n, personalize_event_type=f"t{n % 10}") for n in range(10)]
    batch[6] = interaction("p", "s", 6, personalize_event_type="eleventh")
    produce(settings, [record(i) for i in batch])

    (dead,) = topic_reader(settings.interactions_dead_letter_topic).read(1)
    reason = dict(dead.headers())["dead_letter_reason"].decode()
    assert reason.startswith("InvalidInputException: ")
    assert "exceed 10 distinct event types" in reason
    assert b'"event_id":"p-6"' in dead.value()
    expected = sorted([f"w-{n}" for n in range(10)] + [f"p-{n}" for n in range(10) if n != 6])
    wait_for(lambda: sorted(delivered_ids(personalize_emulator)) == expected, what="the other 9")
    wait_for(lambda: committed(settings) == 20, what="all offsets committed")


def test_throttling_and_server_errors_lose_nothing_and_deliver_each_event_once(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    personalize_emulator.set_faults(throttle_rate=0.3, error_rate=0.05)
    retried_before = metric("sink_events_total", outcome="retried")
    _, settings = start_sink(sink_threads=4, sink_linger_seconds=0.2)
    users, per_user = 150, 8
    records = [
        record(interaction(f"u{u}", f"s{u % 3}", n)) for n in range(per_user) for u in range(users)
    ]
    produce(settings, records[: len(records) // 2])
    wait_for(lambda: personalize_emulator.stats()["throttled"] > 20, what="throttling going on")
    produce(settings, records[len(records) // 2 :])

    total = users * per_user
    stats = wait_for(
        lambda: (s := personalize_emulator.stats())["distinct_event_ids"] == total and s,
        timeout=120,
        what=f"{total} distinct events delivered",
    )
    assert stats["resent_events"] == 0 and stats["events"] == total
    assert stats["throttled"] > 0 and stats["server_errors"] > 0
    wait_for(lambda: committed(settings) == total, timeout=60, what="every offset committed")
    assert metric("sink_events_total", outcome="retried") > retried_before


def test_unknown_tracker_stops_delivery_commits_nothing_and_resumes_when_fixed(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    personalize_emulator.set_faults(unknown_tracker=True)
    sink, settings = start_sink(sink_fatal_retry_seconds=0.5)
    produce(settings, [record(interaction(f"u{n}", "s", n)) for n in range(30)])
    wait_for(lambda: not sink.ready, what="readiness to fail")
    assert metric("sink_delivery_stopped") == 1
    probes = personalize_emulator.stats()["resource_not_found"]
    wait_for(
        lambda: personalize_emulator.stats()["resource_not_found"] >= probes + 2,
        what="periodic probes",
    )
    assert committed(settings) == 0 and personalize_emulator.put_events() == []

    personalize_emulator.set_faults(unknown_tracker=False)
    wait_for(lambda: sink.ready, what="readiness back")
    wait_for(
        lambda: (
            sorted(delivered_ids(personalize_emulator)) == sorted(f"u{n}-{n}" for n in range(30))
        ),
        what="every event delivered after the fix",
    )
    wait_for(lambda: committed(settings) == 30, what="offsets committed after the fix")
    assert metric("sink_delivery_stopped") == 0


def test_dry_run_sends_nothing_counts_and_commits(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    before = metric("sink_events_total", outcome="dry_run")
    _, settings = start_sink(
        sink_dry_run=True, aws_personalize_tracking_id=None, personalize_endpoint_url=None
    )
    produce(settings, [record(interaction("a", "s", n)) for n in range(4)])
    wait_for(lambda: committed(settings) == 4, what="dry-run offsets committed")
    assert metric("sink_events_total", outcome="dry_run") - before == 4
    assert personalize_emulator.put_events() == []


def test_refuses_to_start_with_nowhere_to_deliver(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    no_tracker = SinkSettings(**kafka_settings.model_dump())
    with pytest.raises(SystemExit, match="SINK_DRY_RUN=true"):
        PersonalizeSink(no_tracker)
    no_credentials = SinkSettings(**kafka_settings.model_dump(), aws_personalize_tracking_id="t")
    with pytest.raises(SystemExit, match="no AWS credentials"):
        PersonalizeSink(no_credentials)


def test_slow_personalize_pauses_consumption_instead_of_holding_everything(
    start_sink: StartSink, personalize_emulator: RunningEmulator
) -> None:
    personalize_emulator.set_faults(latency_ms=100)
    _, settings = start_sink(sink_threads=2, sink_max_pending_events=100, sink_poll_max_messages=50)
    total = 600
    produce(settings, [record(interaction(f"u{n % 97}", "s", n)) for n in range(total)])
    highest = 0.0

    def paused() -> bool:
        nonlocal highest
        highest = max(highest, metric("sink_pending_events"))
        return metric("sink_partitions_paused") >= 1

    wait_for(paused, what="the partitions paused")
    personalize_emulator.set_faults(latency_ms=0)
    wait_for(lambda: personalize_emulator.stats()["events"] == total, what="everything delivered")
    wait_for(lambda: committed(settings) == total, what="every offset committed")
    assert metric("sink_partitions_paused") == 0
    assert highest <= 100 + 50  # the limit, overshot by at most one consume batch


def test_offsets_the_delivery_log_lists_for_this_topic_are_not_sent_again(
    start_sink: StartSink, kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator
) -> None:
    # A log as a crashed sink of this group left it: offsets 0 and 1 delivered. A record of
    # another interactions topic (one deleted and recreated: offsets restart) lists 2 and 3.
    group = "sink-log-test"
    log_topic = f"{kafka_settings.interactions_topic}.{group}.delivered"
    admin = admin_client(kafka_settings)
    create_topics(admin, [NewTopic(log_topic, kafka_settings.topic_partitions, 1)])
    source = describe_topic(admin, kafka_settings.interactions_topic)
    assert source is not None
    producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
    for topic_id, offsets in ((str(source.topic_id), [0, 1]), ("recreated", [2, 3])):
        value = orjson.dumps({"topic_id": topic_id, "offsets": offsets})
        producer.produce(log_topic, value, b"0", partition=0)
    assert producer.flush(10) == 0
    produce(kafka_settings, [record(interaction("a", "s", n)) for n in range(5)], partition=0)
    skipped_before = metric("sink_events_total", outcome="already_delivered")

    _, settings = start_sink(sink_group_id=group)
    assert settings.delivery_log_topic == log_topic
    wait_for(lambda: committed(settings) == 5, what="all five offsets committed")
    assert sorted(delivered_ids(personalize_emulator)) == ["a-2", "a-3", "a-4"]
    assert metric("sink_events_total", outcome="already_delivered") - skipped_before == 2


def test_refuses_to_start_without_the_interactions_topic_or_with_a_narrower_log(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    values = {**kafka_settings.model_dump(), "aws_personalize_tracking_id": "t"}
    missing = SinkSettings(**{**values, "interactions_topic": f"{kafka_settings.raw_topic}-none"})
    with pytest.raises(SystemExit, match="does not exist: create the topics first"):
        PersonalizeSink(missing).run(threading.Event())

    settings = SinkSettings(**values)
    create_topics(admin_client(settings), [NewTopic(settings.delivery_log_topic, 1, 1)])
    with pytest.raises(SystemExit, match="has 1 partitions and the interactions topic 3"):
        PersonalizeSink(settings).run(threading.Event())
