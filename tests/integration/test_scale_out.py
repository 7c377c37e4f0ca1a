"""Scale-out, as users outgrow one process: two streams workers and two sink instances share the
partitions (one group each); SIGKILL of one of each mid-flow, the survivors take the partitions
over; a third instance of each joins mid-flow and the groups rebalance. Events flow from the
webhook to the Personalize emulator throughout and are counted there by eventId."""

import uuid
from pathlib import Path

import pytest

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from devtools.stack import answers_ok
from tests.fixtures.kafka_fixture import topic_env, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.service_process import ServiceProcess, scraped
from tests.fixtures.webhook_load import WebhookLoad, emulator_event_ids, emulator_stats

SECRET = "scale-out-test-webhook-secret-0123456789"
SINK_THREADS = 4
STREAMS_BATCH_SIZE = 200
# docs/operations.md, "Scaling out": a SIGKILLed sink re-sends at most its calls in flight
# (4 x SINK_THREADS calls of at most 10 events); a SIGKILLed streams worker re-emits at most
# the batch whose dedup records Kafka had not yet acknowledged (STREAMS_BATCH_SIZE); a join
# re-sends nothing.
RESEND_BOUND = 4 * SINK_THREADS * 10 + STREAMS_BATCH_SIZE


class Stage:
    """Instances of one service, in one group, each on its own ports and data directory."""

    def __init__(self, command: str, env: dict[str, str], tmp_path: Path) -> None:
        self.command, self.env, self.tmp_path = command, env, tmp_path
        self.instances: list[ServiceProcess] = []

    def start(self) -> ServiceProcess:
        n, port = len(self.instances), free_port()
        if self.command == "streams":
            own = {"STREAMS_WEB_PORT": str(port), "STREAMS_DATA_DIR": str(self.tmp_path / f"s{n}")}
        else:
            own = {"SINK_STATUS_PORT": str(port)}
        instance = ServiceProcess(
            self.command,
            {**self.env, **own},
            f"http://127.0.0.1:{port}/readyz",
            self.tmp_path / f"{self.command}-{n}.log",
        )
        self.instances.append(instance)
        return instance.start(timeout=90)

    def metric(self, instance: ServiceProcess, line_prefix: str) -> float:
        return scraped(instance.ready_url.replace("/readyz", "/metrics"), line_prefix)

    def stop(self) -> None:
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.stop()


@pytest.mark.timeout(480)
def test_two_of_each_share_survive_a_kill_and_take_a_third_without_loss(
    kafka_settings: KafkaSettings, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    group = f"scale-{uuid.uuid4().hex[:8]}"
    env = {
        **topic_env(kafka_settings),
        "AMPLITUDE_WEBHOOK_SECRET": SECRET,
        "STREAMS_APP_ID": f"{group}-weigher",
        "STREAMS_BATCH_SIZE": str(STREAMS_BATCH_SIZE),
        "SINK_GROUP_ID": f"{group}-sink",
        "SINK_THREADS": str(SINK_THREADS),
        "SINK_LINGER_SECONDS": "0.2",
        "AWS_PERSONALIZE_TRACKING_ID": "tracker-1",
        "PERSONALIZE_ENDPOINT_URL": personalize_emulator.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    ingest_port, ingest_internal = free_port(), free_port()
    ingest = ServiceProcess(
        "ingest",
        {**env, "INGEST_PORT": str(ingest_port), "INGEST_INTERNAL_PORT": str(ingest_internal)},
        f"http://127.0.0.1:{ingest_internal}/readyz",
        tmp_path / "ingest.log",
    )
    streams, sinks = Stage("streams", env, tmp_path), Stage("sink", env, tmp_path)
    load: WebhookLoad | None = None
    try:
        ingest.start()
        workers = [streams.start(), streams.start()]
        consumers = [sinks.start(), sinks.start()]
        wait_for(
            lambda: all(answers_ok(i.ready_url) for i in workers + consumers),
            90,
            "both workers and both sinks holding partitions after the second joins",
        )
        load = WebhookLoad(ingest_port, SECRET)

        def delivered() -> int:
            return emulator_stats(personalize_emulator.url)["distinct_event_ids"]

        load.release(3000)
        wait_for(lambda: delivered() >= 1500, 90, "the flow to reach the emulator")
        # Both instances of each stage do part of the work: they share the partitions.
        assert all(streams.metric(w, "streams_events_in_total ") > 0 for w in workers)
        delivering = 'sink_events_total{outcome="delivered"} '
        assert all(sinks.metric(s, delivering) > 0 for s in consumers)

        # SIGKILL one of each mid-flow: the survivors take their partitions over.
        load.release(3000)
        workers[0].kill()
        consumers[0].kill()
        load.wait_accepted(6000)
        wait_for(lambda: delivered() >= 6000, 120, "every event delivered by the survivors")

        # A third instance of each joins mid-flow: both groups rebalance.
        load.release(3000)
        load.wait_accepted(7000)
        joined = [streams.start(), sinks.start()]
        load.wait_accepted(9000)
        wait_for(lambda: delivered() >= 9000, 120, "every event delivered after the joins")
        wait_for(
            lambda: all(answers_ok(i.ready_url) for i in [*joined, workers[1], consumers[1]]),
            60,
            "the survivors and the newcomers ready",
        )

        at_emulator = emulator_event_ids(personalize_emulator.url)
        assert set(at_emulator) == load.event_ids()  # every acknowledged event, nothing else
        resent = len(at_emulator) - len(set(at_emulator))
        print(f"9000 events delivered; re-sent at Personalize: {resent} (bound {RESEND_BOUND})")
        assert resent <= RESEND_BOUND
    finally:
        if load is not None:
            load.close()
        streams.stop()
        sinks.stop()
        ingest.stop()
