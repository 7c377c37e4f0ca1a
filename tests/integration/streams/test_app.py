"""The Faust worker against a real broker: weights, filtering and dead letters, end to end."""

import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Message, Producer

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from devtools.stack import answers_ok
from streams.app import SEEN_TABLE
from tests.fixtures.kafka_fixture import TopicReader, topic_env, wait_for
from tests.fixtures.log_format import parsed_lines
from tests.fixtures.service_process import ServiceProcess, scraped
from tests.unit.schemas.test_rules import SEED_WEIGHTS


def start_worker(
    settings: KafkaSettings,
    tmp_path: Path,
    app_id: str,
    name: str = "streams",
    **extra_env: str,
) -> ServiceProcess:
    """A `pipeline streams` process; returns once it holds partitions (its /readyz)."""
    port = free_port()
    env = {
        **topic_env(settings),
        "STREAMS_APP_ID": app_id,
        "STREAMS_WEB_PORT": str(port),
        "STREAMS_DATA_DIR": str(tmp_path / name),
        **extra_env,
    }
    return ServiceProcess(
        "streams", env, f"http://127.0.0.1:{port}/readyz", tmp_path / f"{name}.log"
    ).start()


# asyncio's debug mode, for the workers of the rebalancing tests: a call into the event loop of
# Faust's consumer thread (aiokafka's) from the worker's own loop raises rather than racing.
THREAD_CHECKS = {"PYTHONASYNCIODEBUG": "1"}


def metric(worker: ServiceProcess, line_prefix: str) -> float:
    """The value of the first /metrics line starting with `line_prefix` (0 when absent)."""
    return scraped(worker.ready_url.replace("/readyz", "/metrics"), line_prefix)


@pytest.fixture
def streams_worker(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    worker = start_worker(kafka_settings, tmp_path, f"weigher-{uuid.uuid4().hex[:8]}")
    yield worker
    worker.stop()


def produce(settings: KafkaSettings, events: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for key, value in events:
        producer.produce(settings.raw_topic, value, key)
    assert producer.flush(10) == 0


def raw(
    event_type: str, user: str, n: int, insert_id: str | None = None, **props: object
) -> tuple[bytes, bytes]:
    event = {
        "event_type": event_type,
        "user_id": user,
        "session_id": 1700000000000,
        "time": 1700000000000 + n,
        "insert_id": insert_id or f"{user}-{n}",
        "event_properties": {"item_id": f"item-{n}", **props},
    }
    return user.encode(), orjson.dumps(event)


def records(messages: list[Message]) -> list[dict[str, Any]]:
    return [orjson.loads(m.value()) for m in messages]


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


def test_aliases_map_to_the_canonical_type(
    streams_worker: ServiceProcess,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    names = ["Donate", "fundraise", "donate", "Fundraise", "DONATE"]  # the last: no such alias
    produce(kafka_settings, [raw(name, "u3", n) for n, name in enumerate(names)])
    produce(kafka_settings, [raw("click", "u3", 99)])  # the sentinel, after the others
    got = records(topic_reader(kafka_settings.interactions_topic).read(5))
    assert [(r["item_id"], r["event_type"], r["weight"]) for r in got] == [
        ("item-0", "donate", 3.0),
        ("item-1", "donate", 3.0),
        ("item-2", "donate", 3.0),
        ("item-3", "donate", 3.0),
        ("item-99", "click", 1.0),
    ]
    assert metric(streams_worker, 'streams_events_filtered_total{event_type="other"}') == 1


def test_impressions_carry_their_lists_and_the_recommendation(
    streams_worker: ServiceProcess,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    shown = [f"shown-{k}" for k in range(30)]
    produce(
        kafka_settings,
        [
            raw("initial_impression", "u4", 1, impression=shown, recommendation_id="rec-1"),
            raw("scroll_impression", "u4", 2, item_ids=shown[:3]),
            raw("click", "u4", 3, recommendationId="rec-1"),
        ],
    )
    got = records(topic_reader(kafka_settings.interactions_topic).read(3))
    assert (
        [(r["event_type"], r["impression"], r["recommendation_id"]) for r in got]
        == [
            ("initial_impression", shown[:25], "rec-1"),  # at most 25, as Personalize allows
            ("scroll_impression", shown[:3], None),
            ("click", [], "rec-1"),
        ]
    )


def test_the_same_insert_id_twice_is_one_interaction(
    streams_worker: ServiceProcess,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    first = raw("click", "u5", 1, insert_id="once")
    resent = raw("click", "u5", 2, insert_id="once")  # an SDK resend: same insert_id
    produce(kafka_settings, [first, resent, raw("upvote", "u5", 3)])
    got = records(topic_reader(kafka_settings.interactions_topic).read(2))
    wait_for(lambda: metric(streams_worker, "streams_duplicates_total ") == 1, what="duplicate")
    # The group's lag is exported beside (kafka_exporter's name, for the ops dashboard).
    lag = 'kafka_consumergroup_lag{consumergroup="weigher-'
    wait_for(lambda: _has_line(streams_worker, lag), what="kafka_consumergroup_lag")
    assert [(r["insert_id"], r["item_id"]) for r in got] == [("once", "item-1"), ("u5-3", "item-3")]


def test_a_restarted_worker_still_knows_the_insert_ids(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    reader = topic_reader(kafka_settings.interactions_topic)
    worker = start_worker(kafka_settings, tmp_path, app_id, "before")
    produce(kafka_settings, [raw("share", "u6", 1, insert_id="retried")])
    reader.read(1)
    assert worker.stop() == 0
    # A new process with an empty data directory: only the table's changelog remembers.
    worker = start_worker(kafka_settings, tmp_path, app_id, "after")
    try:
        produce(kafka_settings, [raw("share", "u6", 2, insert_id="retried"), raw("hide", "u6", 3)])
        got = records(reader.read(2))
        assert [(r["insert_id"], r["item_id"]) for r in got] == [
            ("retried", "item-1"),
            ("u6-3", "item-3"),
        ]
        assert metric(worker, "streams_duplicates_total ") == 1
    finally:
        worker.stop()


def test_a_restarted_worker_recovers_many_insert_ids(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    """Hundreds of dedup entries, written in multi-record batches, on every partition."""
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    reader = topic_reader(kafka_settings.interactions_topic)
    users = [f"many-{k}" for k in range(10)]
    events = [raw("view", user, n) for n in range(20) for user in users]
    worker = start_worker(kafka_settings, tmp_path, app_id, "before")
    produce(kafka_settings, events)
    reader.read(len(events))
    assert worker.stop() == 0
    worker = start_worker(kafka_settings, tmp_path, app_id, "after")
    try:
        sentinels = [raw("click", user, 999) for user in users]
        produce(kafka_settings, events + sentinels)  # every event resent, then one new each

        def sentinels_out() -> bool:
            return sum(r["item_id"] == "item-999" for r in records(reader.poll())) == len(users)

        # Per partition in order: once every sentinel is read, so is any wrongly re-emitted event.
        wait_for(sentinels_out, what="the sentinels")
        assert len(reader.messages) == len(events) + len(sentinels)
        assert metric(worker, "streams_duplicates_total ") == len(events)
    finally:
        worker.stop()


def test_two_workers_split_the_partitions_and_survive_a_kill(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    reader = topic_reader(kafka_settings.interactions_topic)
    one = start_worker(kafka_settings, tmp_path, app_id, "one", **THREAD_CHECKS)
    two = start_worker(kafka_settings, tmp_path, app_id, "two", **THREAD_CHECKS)
    try:
        # Both hold partitions once the rebalance after the second join has settled.
        wait_for(lambda: _ready(one) and _ready(two), 60, "both workers holding partitions")
        users = [f"user-{k}" for k in range(30)]  # spread over the 3 partitions
        produce(kafka_settings, [raw("view", user, n) for n, user in enumerate(users)])
        reader.read(30)
        assert metric(one, "streams_events_in_total ") > 0
        assert metric(two, "streams_events_in_total ") > 0
        two.kill()  # SIGKILL: no goodbye, the group notices when its session times out
        produce(kafka_settings, [raw("click", user, 100 + n) for n, user in enumerate(users)])
        got = records(reader.read(60, timeout=90))
        assert len(got) == 60  # nothing lost; re-read events are dropped as duplicates
        assert sorted(r["item_id"] for r in got) == sorted(
            [f"item-{n}" for n in range(30)] + [f"item-{100 + n}" for n in range(30)]
        )
    finally:
        one.stop()
        two.stop()


def test_a_worker_keeps_only_the_insert_ids_of_the_partitions_it_holds(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    """The dedup memory's bound after rebalances: a second worker takes partitions over, the
    first drops their ids, the second recovers them, and together they hold each id once."""
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    reader = topic_reader(kafka_settings.interactions_topic)
    held = "streams_dedup_insert_ids "
    one = start_worker(kafka_settings, tmp_path, app_id, "one")
    two = None
    try:
        users = [f"held-{k}" for k in range(30)]  # spread over the 3 partitions
        produce(kafka_settings, [raw("view", user, n) for n, user in enumerate(users)])
        reader.read(30)
        wait_for(lambda: metric(one, held) == 30, what="30 insert ids held by the only worker")
        two = start_worker(kafka_settings, tmp_path, app_id, "two")
        wait_for(lambda: _ready(one) and _ready(two), 60, "both workers holding partitions")
        wait_for(
            lambda: 0 < metric(one, held) < 30 and metric(one, held) + metric(two, held) == 30,
            what="the ids split between the workers, each held once",
        )
    finally:
        one.stop()
        if two is not None:
            two.stop()


def _ready(worker: ServiceProcess) -> bool:
    try:
        with urllib.request.urlopen(worker.ready_url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_a_bad_rules_file_stops_the_worker_and_says_why(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('version = 1\n[[rule]]\nevent_type = "click"\nweight = "heavy"\n')
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "streams"],
        env={**os.environ, "STREAMS_RULES_PATH": str(rules)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"invalid rules file {rules}" in result.stderr.decode()
    assert "rule.0.weight" in result.stderr.decode()


def test_a_failed_write_stops_the_worker_and_the_event_is_read_again(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    broken = kafka_settings.model_copy(update={"interactions_topic": "no such topic!"})
    worker = start_worker(broken, tmp_path, app_id, "broken")
    produce(kafka_settings, [raw("comment", "u7", 1)])
    assert worker.process is not None
    assert worker.process.wait(60) != 0  # fatal: stops rather than acknowledging the batch
    assert "outputs not acknowledged by Kafka" in worker.log.read_text()
    worker = start_worker(kafka_settings, tmp_path, app_id, "fixed")
    try:
        (record,) = records(topic_reader(kafka_settings.interactions_topic).read(1))
        assert (record["event_type"], record["item_id"]) == ("comment", "item-1")
    finally:
        worker.stop()


def _has_line(worker: ServiceProcess, prefix: str) -> bool:
    url = worker.ready_url.replace("/readyz", "/metrics")
    with urllib.request.urlopen(url, timeout=5) as response:
        return any(line.startswith(prefix) for line in response.read().decode().splitlines())


@pytest.mark.parametrize("asked", [False, True], ids=["default", "asked for"])
def test_faust_table_and_router_views_are_off_unless_asked_for(
    kafka_settings: KafkaSettings, tmp_path: Path, asked: bool
) -> None:
    """/table reads the dedup table (insert ids) and /router lists the workers: off by default."""
    flag = "true" if asked else "false"
    worker = start_worker(
        kafka_settings,
        tmp_path,
        f"views-{uuid.uuid4().hex[:8]}",
        STREAMS_WEB_TABLE_VIEWS=flag,
        STREAMS_WEB_ROUTER_VIEWS=flag,
    )
    try:
        base = worker.ready_url.removesuffix("/readyz")
        for path in ("/table/", f"/table/{SEEN_TABLE}/", "/router/"):
            assert answers_ok(base + path) is asked, path
        assert answers_ok(base + "/metrics")
    finally:
        assert worker.stop() == 0


def test_a_handover_and_a_graceful_stop_mid_flow_re_emit_nothing(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    """A second worker joining (a rebalance) and the first one's SIGTERM, each while events
    flow and a batch is in flight: every raw event comes out exactly once, and not thanks to
    the dedup memory (shortened to half a second, it cannot hide a re-read batch)."""
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    reader = topic_reader(kafka_settings.interactions_topic)
    users = [f"flow-{k}" for k in range(50)]
    # Small batches, each awaiting Kafka's acknowledgement: while events flow, a batch is in
    # flight nearly all the time, so the join and the stop each meet one.
    small = {"STREAMS_BATCH_SIZE": "2", "STREAMS_DEDUP_WINDOW_SECONDS": "0.5", **THREAD_CHECKS}
    one = start_worker(kafka_settings, tmp_path, app_id, "one", **small)
    two: ServiceProcess | None = None
    flowing, produced = threading.Event(), [0]
    pacer = topic_reader(kafka_settings.interactions_topic)  # the flow thread's own

    def flow() -> None:
        """Up to ~400 events/s, and never more than 200 ahead of what came out: a flow, not a
        backlog (a slow machine's worker of two-event batches handles fewer than 400/s)."""
        producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
        n = 0
        while flowing.is_set():
            if n - len(pacer.poll()) < 200:
                for _ in range(20):
                    key, value = raw("view", users[n % len(users)], n)
                    producer.produce(kafka_settings.raw_topic, value, key)
                    n += 1
                assert producer.flush(10) == 0
                produced[0] = n
            flowing.wait(0.05)

    flowing.set()
    producer_thread = threading.Thread(target=flow)
    producer_thread.start()
    try:
        reader.read(200, timeout=60)
        two = start_worker(kafka_settings, tmp_path, app_id, "two", **small)  # a rebalance
        wait_for(lambda: _ready(one) and _ready(two), 60, "both workers holding partitions")
        # `one` at work again after the rebalance: stopped in the middle of its flow.
        handled = metric(one, "streams_events_in_total ")
        wait_for(lambda: metric(one, "streams_events_in_total ") > handled + 100, 60, "a flow")
        assert one.stop() == 0  # SIGTERM mid-flow: its partitions go over to `two`
        reader.read(len(reader.poll()) + 100, timeout=60)  # `two` carries the flow on
    finally:
        flowing.clear()
        producer_thread.join()
    try:
        # Per user (so per partition) in order: a re-emitted event would come before these.
        produce(kafka_settings, [raw("click", user, 999_999_999) for user in users])

        def sentinels_out() -> bool:
            got = records(reader.poll())
            return sum(r["item_id"] == "item-999999999" for r in got) == len(users)

        wait_for(sentinels_out, 180, "every event and the sentinels")
        ids = Counter(r["insert_id"] for r in records(reader.messages))
        assert len(ids) == produced[0] + len(users)
        assert [i for i, n in ids.items() if n > 1] == []
    finally:
        one.stop()
        if two is not None:
            two.stop()


def test_every_line_the_worker_writes_is_a_log_line_in_the_one_format(
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    """Start to stop, Faust's and mode's own lines ("[^Worker]: Starting...") and aiokafka's
    come out as the stage's own do (core/logs.py), not in mode's format."""
    worker = start_worker(kafka_settings, tmp_path, f"weigher-{uuid.uuid4().hex[:8]}", "logs")
    try:
        produce(kafka_settings, [raw("comment", "u-logs", 1)])
        assert len(topic_reader(kafka_settings.interactions_topic).read(1)) == 1
    finally:
        assert worker.stop() == 0
    entries = parsed_lines(worker.log.read_text(), "streams")
    said = {(entry["logger"], entry["msg"]) for entry in entries}
    for line in ("[^Worker]: Starting...", "[^Worker]: Ready", "[^Worker]: Stopping..."):
        assert ("faust.worker", line) in said  # Ready: a log line, not the spinner's "OK ^"
    assert any(logger.startswith("aiokafka.") for logger, _ in said)  # Faust's Kafka client
    assert any(logger == "streams.app" for logger, _ in said)  # the stage's own
