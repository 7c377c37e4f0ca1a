"""The sink as deployed (a child process): SIGKILL mid-stream, restart, duplicates bounded."""

import urllib.error
import urllib.request
import uuid
from pathlib import Path

from pipeline.broker import free_port
from pipeline.settings import KafkaSettings
from sinks import SinkSettings
from tests.integration.sink_helpers import committed, interaction, produce, record
from tests.kafka_fixture import topic_env, wait_for
from tests.personalize_fixture import RunningEmulator
from tests.service_process import ServiceProcess

THREADS = 4
MAX_UNCOMMITTED = 100
POLL_BATCH = 100
PARTITIONS = 3  # tests.kafka_fixture.kafka_settings
# What a restarted sink may re-send (runner.py, README "Delivery to Personalize"): delivered
# records below the watermark not yet committed (an immediate commit past MAX_UNCOMMITTED),
# plus, per partition, delivered records above it (the partition pauses at MAX_UNCOMMITTED
# records above its committed offset, overshooting by at most one consume batch).
RESEND_BOUND = MAX_UNCOMMITTED + PARTITIONS * (MAX_UNCOMMITTED + POLL_BATCH)


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
        "SINK_MAX_UNCOMMITTED_EVENTS": str(MAX_UNCOMMITTED),
        "SINK_LINGER_SECONDS": "0.3",
        "SINK_POLL_MAX_MESSAGES": str(POLL_BATCH),
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
