"""The sink as deployed (a child process): SIGKILL and restart re-send only the calls in
flight; a clean stop and restart re-send nothing."""

import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from sinks.personalize import SinkSettings
from tests.fixtures.kafka_fixture import TopicReader, topic_env, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.service_process import ServiceProcess, scraped
from tests.fixtures.sink_helpers import committed, interaction, produce, record

THREADS = 4
PARTITIONS = 3  # tests.fixtures.kafka_fixture.kafka_settings
# What a restarted sink may re-send (docs/architecture.md, "The re-send bound"): the calls in
# flight at the crash. A call is in flight from its submission to the pool until Kafka
# acknowledged its delivery-log record, and the sink keeps at most 4 x SINK_THREADS in flight,
# each of at most 10 events. (Without the log it re-sent every delivered record above the
# committed offsets: up to SINK_MAX_UNCOMMITTED_EVENTS + partitions x (that + a poll batch).)
RESEND_BOUND = 10 * 4 * THREADS


def sink_env(kafka: KafkaSettings, emulator: RunningEmulator, port: int) -> dict[str, str]:
    """`pipeline sink` on these topics, a group of its own, delivering to the emulator."""
    return {
        **topic_env(kafka),
        "SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "AWS_PERSONALIZE_TRACKING_ID": "tracker-1",
        "PERSONALIZE_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "SINK_STATUS_PORT": str(port),
    }


def test_sigkill_mid_stream_and_restart_delivers_everything_with_bounded_resends(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    personalize_emulator.set_faults(latency_ms=5)  # slow enough to be killed mid-stream
    port = free_port()
    env = {
        **sink_env(kafka_settings, personalize_emulator, port),
        "SINK_THREADS": str(THREADS),
        "SINK_MAX_UNCOMMITTED_EVENTS": "100",
        "SINK_LINGER_SECONDS": "0.3",
        "SINK_POLL_MAX_MESSAGES": "100",
    }
    assert kafka_settings.topic_partitions == PARTITIONS
    settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])
    users, per_user = 400, 10
    records = [
        record(interaction(f"u{u}", f"s{n % 3}", n)) for n in range(per_user) for u in range(users)
    ]
    total = len(records)
    produce(kafka_settings, records)

    def sink() -> ServiceProcess:
        return ServiceProcess("sink", env, f"http://127.0.0.1:{port}/readyz", tmp_path / "sink.log")

    first = sink().start()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        exported = response.read().decode()
    for name in ("sink_delivery_stopped 0.0", "sink_put_events_in_flight", "sink_pending_events"):
        assert name in exported
    wait_for(
        lambda: personalize_emulator.stats()["distinct_event_ids"] >= total // 3,
        timeout=60,
        what="a third delivered",
    )
    first.kill()  # SIGKILL: no flush, no commit
    at_kill = personalize_emulator.stats()["distinct_event_ids"]
    committed_at_kill = committed(settings)
    assert at_kill < total, "the sink finished before it was killed: nothing tested"

    second = sink().start()
    try:
        stats = wait_for(
            lambda: (s := personalize_emulator.stats())["distinct_event_ids"] == total and s,
            timeout=120,
            what="every event delivered after the restart",
        )
    finally:
        assert second.stop() == 0
    assert 0 <= stats["resent_events"] <= RESEND_BOUND, (stats, at_kill, committed_at_kill)
    print(f"killed at {at_kill}/{total} delivered; re-sent after restart: {stats['resent_events']}")


def test_sigkill_while_a_lingering_group_holds_every_offset_re_sends_only_calls_in_flight(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Each partition's first record is a one-event session that lingers 30 s, so no offset
    can be committed while the 1,000 records after it go out in full calls of 10. A restart
    re-reads all of them; without the delivery log it re-sent all 3,000."""
    port = free_port()
    env = {
        **sink_env(kafka_settings, personalize_emulator, port),
        "SINK_THREADS": str(THREADS),
        "SINK_LINGER_SECONDS": "30",
        "SINK_MAX_UNCOMMITTED_EVENTS": "5000",  # never reached: nothing forces the held group
    }
    settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])
    users, full_calls = 100, 3 * 100 * 10
    for partition in range(PARTITIONS):
        held = [record(interaction(f"held{partition}", "lingers", 0))]
        full = [
            record(interaction(f"p{partition}u{u}", "s", n))
            for u in range(users)
            for n in range(10)
        ]
        produce(kafka_settings, held + full, partition=partition)
    total = full_calls + PARTITIONS

    def sink(linger: str) -> ServiceProcess:
        return ServiceProcess(
            "sink",
            {**env, "SINK_LINGER_SECONDS": linger},
            f"http://127.0.0.1:{port}/readyz",
            tmp_path / "sink.log",
        )

    first = sink("30").start()
    wait_for(
        lambda: personalize_emulator.stats()["distinct_event_ids"] >= full_calls,
        timeout=60,
        what="every full call delivered",
    )
    first.kill()  # SIGKILL, well within the 30 s the held groups linger
    at_kill = personalize_emulator.stats()["distinct_event_ids"]
    committed_at_kill = committed(settings)
    assert at_kill == full_calls and committed_at_kill == 0, (at_kill, committed_at_kill)
    without_log = at_kill - committed_at_kill  # delivered above the committed offsets

    second = sink("0.3").start()  # the held sessions go out 0.3 s after they are re-read
    try:
        stats = wait_for(
            lambda: (s := personalize_emulator.stats())["distinct_event_ids"] == total and s,
            timeout=120,
            what="every event delivered after the restart",
        )
        wait_for(lambda: committed(settings) == total, what="every offset committed")
        skipped = scraped(
            f"http://127.0.0.1:{port}/metrics", 'sink_events_total{outcome="already_delivered"}'
        )
    finally:
        assert second.stop() == 0
    print(
        f"re-read after the restart: {without_log} delivered records; re-sent: "
        f"{stats['resent_events']} (bound {RESEND_BOUND}); skipped as already delivered: "
        f"{skipped:.0f}"
    )
    assert stats["resent_events"] <= RESEND_BOUND, stats
    assert skipped + stats["resent_events"] == without_log  # each one skipped or re-sent


def test_clean_stop_and_restart_re_send_nothing(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """SIGTERM while groups still linger: they are sent, offsets and log offsets committed."""
    port = free_port()
    env = {**sink_env(kafka_settings, personalize_emulator, port), "SINK_LINGER_SECONDS": "30"}
    settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])

    def sink() -> ServiceProcess:
        return ServiceProcess("sink", env, f"http://127.0.0.1:{port}/readyz", tmp_path / "sink.log")

    first = sink().start()
    before = [record(interaction(f"u{u}", "s", n)) for u in range(60) for n in range(u % 13)]
    produce(kafka_settings, before)
    full = sum(1 for u in range(60) if u % 13 >= 10) * 10
    wait_for(
        lambda: personalize_emulator.stats()["events"] >= full, what="the full calls delivered"
    )
    assert personalize_emulator.stats()["events"] < len(before)  # the rest lingers
    assert first.stop() == 0  # SIGTERM: send what lingers, commit
    assert personalize_emulator.stats()["events"] == len(before)
    assert committed(settings) == len(before)
    reader = Consumer(
        {
            "bootstrap.servers": kafka_settings.kafka_bootstrap_servers,
            "group.id": env["SINK_GROUP_ID"],
        }
    )
    try:
        log_topic = settings.delivery_log_topic
        log_offsets = reader.committed(
            [TopicPartition(log_topic, p) for p in range(PARTITIONS)], timeout=10
        )
    finally:
        reader.close()
    assert all(tp.offset >= 0 for tp in log_offsets), log_offsets  # committed beside the others

    after = [record(interaction(f"v{u}", "s", n)) for u in range(20) for n in range(10)]
    produce(kafka_settings, after)
    second = sink().start()
    try:
        stats = wait_for(
            lambda: (s := personalize_emulator.stats())["events"] == len(before) + len(after) and s,
            what="the new records delivered",
        )
    finally:
        assert second.stop() == 0
    assert stats["resent_events"] == 0 and stats["distinct_event_ids"] == stats["events"]


def test_unknown_tracker_fails_readiness_over_http_until_fixed(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **sink_env(kafka_settings, personalize_emulator, port),
        "SINK_LINGER_SECONDS": "0.2",
        "SINK_FATAL_RETRY_SECONDS": "0.5",
    }
    base = f"http://127.0.0.1:{port}"
    sink = ServiceProcess("sink", env, f"{base}/readyz", tmp_path / "sink.log").start()
    try:
        personalize_emulator.set_faults(unknown_tracker=True)
        produce(kafka_settings, [record(interaction(f"u{n}", "s", n)) for n in range(20)])

        def readiness() -> int:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return int(error.code)

        def metrics() -> str:
            with urllib.request.urlopen(f"{base}/metrics", timeout=2) as response:
                return str(response.read().decode())

        wait_for(lambda: readiness() == 503, what="/readyz 503 after ResourceNotFoundException")
        assert "sink_delivery_stopped 1.0" in metrics()
        assert 'error_code="ResourceNotFoundException",outcome="fatal"' in metrics()
        settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])
        assert committed(settings) == 0

        personalize_emulator.set_faults(unknown_tracker=False)
        wait_for(lambda: readiness() == 200, what="/readyz 200 once the tracker exists")
        wait_for(lambda: personalize_emulator.stats()["events"] == 20, what="all 20 delivered")
        wait_for(lambda: committed(settings) == 20, what="all 20 committed")
        assert "sink_delivery_stopped 0.0" in metrics()
    finally:
        assert sink.stop() == 0


def test_an_unexpected_error_code_is_retried_and_alerted_and_stops_nothing_else(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """An error code the sink does not know, for one user's calls only: that user's events are
    retried with backoff (never dropped), everyone else's are delivered meanwhile, readiness
    stays up, and the unexpected calls are counted for the alert."""
    port = free_port()
    env = {
        **sink_env(kafka_settings, personalize_emulator, port),
        "SINK_LINGER_SECONDS": "0.2",
        "SINK_BACKOFF_BASE_SECONDS": "0.1",
        "SINK_BACKOFF_MAX_SECONDS": "0.5",
    }
    base = f"http://127.0.0.1:{port}"
    personalize_emulator.set_faults(
        error_code="BrandNewException", error_status=400, error_user_id="u7"
    )
    sink = ServiceProcess("sink", env, f"{base}/readyz", tmp_path / "sink.log").start()
    try:
        produce(kafka_settings, [record(interaction(f"u{n % 20}", "s", n)) for n in range(60)])

        def metrics() -> str:
            with urllib.request.urlopen(f"{base}/metrics", timeout=2) as response:
                return str(response.read().decode())

        wait_for(
            lambda: personalize_emulator.stats()["events"] == 57, what="all but u7's 3 delivered"
        )
        wait_for(
            lambda: personalize_emulator.stats()["injected_errors"] >= 3,
            what="u7's call retried",
        )
        unexpected = 'sink_put_events_calls_total{error_code="other",outcome="unexpected"}'
        assert scraped(f"{base}/metrics", unexpected) >= 3
        assert "sink_delivery_stopped 0.0" in metrics()
        with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
            assert response.status == 200  # not a configuration error: delivery goes on

        personalize_emulator.set_faults(error_code="")
        wait_for(lambda: personalize_emulator.stats()["events"] == 60, what="u7's 3 delivered")
        settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])
        wait_for(lambda: committed(settings) == 60, what="all 60 committed")
    finally:
        personalize_emulator.set_faults(error_code="", error_user_id="")
        assert sink.stop() == 0


def test_poison_records_are_dead_lettered_and_the_sink_goes_on(
    kafka_settings: KafkaSettings,
    personalize_emulator: RunningEmulator,
    tmp_path: Path,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    """Records no stage should have written: a time past 9999 (it used to raise in the sink's
    datetime.fromtimestamp, killing the sink, which re-read it at each restart), invalid
    UTF-8, a lone surrogate, deep nesting. Each is dead-lettered; the good ones delivered."""
    port = free_port()
    env = {**sink_env(kafka_settings, personalize_emulator, port), "SINK_LINGER_SECONDS": "0.2"}
    good = record(interaction("u1", "s", 1))[1]
    poison = [
        good.replace(b'"timestamp_ms":1700000000001', b'"timestamp_ms":253402300800000'),
        good.replace(b'"timestamp_ms":1700000000001', b'"timestamp_ms":' + b"9" * 400),
        good.replace(b'"item_id":"i1"', b'"item_id":"i\xff"'),
        good.replace(b'"item_id":"i1"', b'"item_id":"\\ud800"'),
        b'{"event_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"null",
    ]
    assert all(p != good for p in poison[:4])
    records = [record(interaction(f"u{n}", "s", n)) for n in range(10)]
    produce(kafka_settings, records[:5] + [("p", p) for p in poison] + records[5:])
    sink = ServiceProcess("sink", env, f"http://127.0.0.1:{port}/readyz", tmp_path / "sink.log")
    sink.start()
    try:
        wait_for(lambda: personalize_emulator.stats()["events"] == 10, what="the 10 good ones")
        dead = topic_reader(kafka_settings.interactions_dead_letter_topic).read(len(poison))
        reasons = sorted(dict(m.headers())["dead_letter_reason"].decode() for m in dead)
        assert all(r.startswith("invalid_interaction: ") for r in reasons), reasons
        settings = SinkSettings(**kafka_settings.model_dump(), sink_group_id=env["SINK_GROUP_ID"])
        wait_for(lambda: committed(settings) == 10 + len(poison), what="everything committed")
        assert sink.process.poll() is None  # alive, never restarted
    finally:
        assert sink.stop() == 0
