"""Broker failures on a three-broker KRaft cluster (replication factor 3, min.insync.replicas 2)
while 20,000 events flow webhook -> Kafka -> streams -> Kafka -> sink -> the Personalize
emulator, every service a process as deployed.

The faults, in order: SIGKILL of the broker leading every raw and interactions partition, and
its return; two brokers down at once (fewer than min.insync.replicas: ingest must answer 503
with Retry-After, never 200), and their return; a rolling restart of all three. No service is
restarted: each must recover by itself. Every event ingest answered 200 for must reach the
emulator (counted by eventId), with re-sends within the bound of docs/operations.md.
"""

import time
from pathlib import Path

import pytest

from devtools.kafka_broker import EmbeddedKafka
from devtools.stack import DEV_SECRET, LocalStack, Ports, answers_ok
from tests.fixtures.kafka_cluster import create_led_by, leaders, wait_fully_replicated
from tests.fixtures.kafka_fixture import wait_for
from tests.fixtures.webhook_load import WebhookLoad, emulator_event_ids, emulator_stats

TOTAL = 20_000
PARTITIONS = 3
SINK_THREADS = 4
RAW, INTERACTIONS = "failures.raw", "failures.interactions"
ENV = {
    "AMPLITUDE_WEBHOOK_SECRET": DEV_SECRET,
    "RAW_TOPIC": RAW,
    "INTERACTIONS_TOPIC": INTERACTIONS,
    "RAW_DEAD_LETTER_TOPIC": "failures.raw.dead-letter",
    "INTERACTIONS_DEAD_LETTER_TOPIC": "failures.interactions.dead-letter",
    "TOPIC_PARTITIONS": str(PARTITIONS),
    "TOPIC_REPLICATION_FACTOR": "3",
    "INGEST_ACK_TIMEOUT_SECONDS": "3",
    "INGEST_RETRY_AFTER_SECONDS": "2",
    "SINK_THREADS": str(SINK_THREADS),
    "SINK_LINGER_SECONDS": "0.2",
    "STREAMS_APP_ID": "failures-weigher",
    "SINK_GROUP_ID": "failures-sink",
}
# docs/operations.md, "Broker failures": a broker failure costs at most what a
# sink crash costs (its calls in flight, 4 x SINK_THREADS calls of at most 10 events) each
# time the sink loses its partitions, and the stream stage re-emits nothing it had recorded
# as emitted. Five faults below.
RESEND_BOUND = 5 * 4 * SINK_THREADS * 10


@pytest.mark.timeout(600)  # ~3 minutes alone; a loaded machine takes longer
def test_broker_kill_two_down_and_rolling_restart_lose_nothing(
    kafka_cluster: EmbeddedKafka, tmp_path: Path
) -> None:
    create_led_by(kafka_cluster, 1, [RAW, INTERACTIONS], PARTITIONS)
    stack = LocalStack(
        ports=Ports.free(),
        bootstrap=kafka_cluster.bootstrap_servers,
        extra_env=ENV,
        log_dir=tmp_path / "logs",
        history_dir=tmp_path / "history",
        services=("emulator", "ingest", "streams", "sink"),
    )
    began = time.monotonic()

    def phase(name: str) -> None:
        print(f"{time.monotonic() - began:6.1f}s {name}", flush=True)

    load: WebhookLoad | None = None
    try:
        stack.start(timeout=120)  # inside the try: a service that fails to start is stopped too
        load = WebhookLoad(stack.ports.ingest, DEV_SECRET, posters=3, batch_size=100)
        phase("stack ready")
        emulator = f"http://127.0.0.1:{stack.ports.emulator}"

        def delivered() -> int:
            return emulator_stats(emulator)["distinct_event_ids"]

        load.release(2000)
        wait_for(lambda: delivered() >= 1000, 60, "the flow to reach the emulator")

        phase("flowing")
        # 1. SIGKILL the broker leading every raw and interactions partition, mid-flow.
        assert leaders(kafka_cluster, [RAW, INTERACTIONS]) == {
            RAW: [1] * PARTITIONS,
            INTERACTIONS: [1] * PARTITIONS,
        }
        load.release(5000)
        load.wait_accepted(3000)
        kafka_cluster.stop_node(1, kill=True)
        killed_at = delivered()
        load.wait_accepted(7000)
        wait_for(lambda: delivered() >= killed_at + 3000, 90, "delivery with node 1 down")
        phase("node 1 killed, flow went on")
        kafka_cluster.start_node(1)
        wait_fully_replicated(kafka_cluster)

        phase("node 1 back, fully replicated")
        # 2. Two brokers down: fewer than min.insync.replicas. Never a 200, always a 503.
        kafka_cluster.stop_node(2, kill=True)
        kafka_cluster.stop_node(3, kill=True)
        window_start = time.monotonic()
        load.release(1000)
        wait_for(
            lambda: len(load.attempts_between(window_start, time.monotonic())) >= 4,
            60,
            "attempts answered while two brokers are down",
        )
        window = load.attempts_between(window_start, time.monotonic())
        phase("two down, 503s seen")
        kafka_cluster.start_node(2, wait=False)
        kafka_cluster.start_node(3, wait=False)
        assert {(a.status, a.retry_after) for a in window} == {(503, "2")}, window
        kafka_cluster.wait_until_serving()
        wait_fully_replicated(kafka_cluster)

        phase("nodes 2, 3 back, fully replicated")
        # 3. A rolling restart: each broker stopped (SIGTERM) and back, mid-flow.
        for node in (1, 2, 3):
            load.release(3000)
            load.wait_accepted(load.released - 2000)
            kafka_cluster.stop_node(node)
            kafka_cluster.start_node(node)
            wait_fully_replicated(kafka_cluster)
            phase(f"node {node} restarted")

        phase("rolling restart done")
        # 4. The rest, on the recovered cluster, through the same (never restarted) services.
        load.release(TOTAL - load.released)
        load.wait_accepted(TOTAL, timeout=120)
        stack.check_alive()
        wait_for(lambda: delivered() >= TOTAL, 120, f"{TOTAL} distinct eventIds delivered")
        phase("all delivered")
        for name, url in stack.probes().items():
            assert answers_ok(url), f"{name} not ready after the faults"

        at_emulator = emulator_event_ids(emulator)
        assert set(at_emulator) == load.event_ids()  # every acknowledged event, nothing else
        resent = len(at_emulator) - len(set(at_emulator))
        statuses = {a.status for a in load.attempts}
        print(
            f"{TOTAL} events acknowledged in {len(load.attempts)} attempts "
            f"(statuses {sorted(statuses)}); re-sent at Personalize: {resent} "
            f"(bound {RESEND_BOUND})"
        )
        assert statuses <= {200, 503}, statuses
        assert resent <= RESEND_BOUND
    finally:
        if load is not None:
            load.close()
        stack.stop()
