"""The pipeline on a secured cluster: Apache Kafka with a SASL_PLAINTEXT listener that demands
SCRAM-SHA-256. Every service is given only that listener and one KAFKA_CLIENT_CONFIG in
librdkafka's names (the stream stage translates it for Faust's aiokafka clients).

With the right credentials each service connects and events flow webhook -> Personalize
emulator, into the history files and to the recommendations API's cache invalidation; with a
wrong password each service fails readiness with a clear error and writes nothing. The test
reads the topics over the broker's PLAINTEXT listener (the brokers' own), which the services
never see."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port
from devtools.stack import DEV_CAMPAIGN_ARN, answers_ok
from tests.fixtures.kafka_fixture import TopicReader, committed_total, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.service_process import ServiceProcess
from tests.fixtures.webhook_load import emulator_event_ids, event_id

USER, PASSWORD = "pipeline", "scram-password-for-the-secured-test"
SECRET = "secured-kafka-test-webhook-secret-0123456789"
TOKEN = "secured-kafka-test-recommendations-token-0123456789"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@pytest.fixture(scope="module")
def secured_kafka() -> Iterator[EmbeddedKafka]:
    """One broker; its SASL listener accepts SCRAM-SHA-256 only, for the user created here."""
    broker = EmbeddedKafka(
        listeners={"SASL": "SASL_PLAINTEXT"},
        config={
            "sasl.enabled.mechanisms": "SCRAM-SHA-256",
            "listener.name.sasl.scram-sha-256.sasl.jaas.config": SCRAM,
        },
    ).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers, "log_level": 0})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
        upsert = UserScramCredentialUpsertion(USER, info, PASSWORD.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(30)
        yield broker
    finally:
        broker.stop()


def client_config(password: str) -> str:
    return orjson.dumps(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": USER,
            "sasl.password": password,
        }
    ).decode()


class Pipeline:
    """ingest, streams, sink, history and recommendations against the SASL listener, on topics
    of their own."""

    def __init__(
        self,
        broker: EmbeddedKafka,
        emulator: RunningEmulator,
        tmp_path: Path,
        password: str,
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.topics = KafkaSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,  # PLAINTEXT: the test's own view
            raw_topic=f"raw-{suffix}",
            interactions_topic=f"interactions-{suffix}",
            raw_dead_letter_topic=f"raw-dlq-{suffix}",
            interactions_dead_letter_topic=f"interactions-dlq-{suffix}",
            topic_partitions=3,
        )
        ensure_topics(self.topics)
        self.groups = {"streams": f"weigher-{suffix}", "sink": f"sink-{suffix}"}
        self.history_dir = tmp_path / f"history-{suffix}"
        self.history_dir.mkdir()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.listener_bootstrap("SASL"),
            "KAFKA_CLIENT_CONFIG": client_config(password),
            "RAW_TOPIC": self.topics.raw_topic,
            "INTERACTIONS_TOPIC": self.topics.interactions_topic,
            "RAW_DEAD_LETTER_TOPIC": self.topics.raw_dead_letter_topic,
            "INTERACTIONS_DEAD_LETTER_TOPIC": self.topics.interactions_dead_letter_topic,
            "TOPIC_PARTITIONS": "3",
            "AMPLITUDE_WEBHOOK_SECRET": SECRET,
            "INGEST_ACK_TIMEOUT_SECONDS": "3",
            "STREAMS_APP_ID": self.groups["streams"],
            "STREAMS_DATA_DIR": str(tmp_path / f"faust-{suffix}"),
            "SINK_GROUP_ID": self.groups["sink"],
            "SINK_LINGER_SECONDS": "0.2",
            "AWS_PERSONALIZE_TRACKING_ID": "tracker-1",
            "PERSONALIZE_ENDPOINT_URL": emulator.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "HISTORY_GROUP_ID": f"history-{suffix}",
            "HISTORY_TARGET": f"file://{self.history_dir}",
            "HISTORY_ROLL_SECONDS": "1",
            "RECOMMENDATIONS_API_TOKENS": TOKEN,
            "AWS_PERSONALIZE_CAMPAIGN_ARN": DEV_CAMPAIGN_ARN,
            "PERSONALIZE_RUNTIME_ENDPOINT_URL": emulator.url,
        }
        # Each service's probe port (ingest's internal listener); the webhook has its own.
        names = ("ingest", "streams", "sink", "history", "recommendations")
        ports = {name: free_port() for name in names}
        self.ingest_port, self.recommendations_port = free_port(), free_port()
        own = {
            "ingest": {
                "INGEST_PORT": str(self.ingest_port),
                "INGEST_INTERNAL_PORT": str(ports["ingest"]),
            },
            "streams": {"STREAMS_WEB_PORT": str(ports["streams"])},
            "sink": {"SINK_STATUS_PORT": str(ports["sink"])},
            "history": {"HISTORY_STATUS_PORT": str(ports["history"])},
            "recommendations": {
                "RECOMMENDATIONS_PORT": str(self.recommendations_port),
                "RECOMMENDATIONS_INTERNAL_PORT": str(ports["recommendations"]),
            },
        }
        self.services = {
            name: ServiceProcess(
                name,
                {**env, **own[name]},
                f"http://127.0.0.1:{port}/readyz",
                tmp_path / f"{name}-{suffix}.log",
            )
            for name, port in ports.items()
        }

    def post(self, events: list[dict[str, object]]) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ingest_port}/webhooks/amplitude",
            data=orjson.dumps({"events": events}),
            headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def cached(self, user: str) -> bool:
        """Whether the recommendations API answered `user` from its cache."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.recommendations_port}/recommendations/{user}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return bool(orjson.loads(response.read())["cached"])

    def log(self, name: str) -> str:
        return self.services[name].log.read_text(errors="replace")

    def stop(self, kill: bool = False) -> None:
        for service in self.services.values():
            if service.process is not None and service.process.poll() is None:
                service.kill() if kill else service.stop()


def events(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "event_type": "click",
            "user_id": f"{prefix}-u{k % 10}",
            "session_id": 1700000000000,
            "time": 1700000000000 + k,
            "insert_id": f"{prefix}-{k}",
            "event_properties": {"item_id": f"item-{k}"},
        }
        for k in range(n)
    ]


def test_every_service_joins_the_sasl_cluster_and_events_flow(
    secured_kafka: EmbeddedKafka, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    pipeline = Pipeline(secured_kafka, personalize_emulator, tmp_path, PASSWORD)
    try:
        for service in pipeline.services.values():
            service.start(timeout=90)  # each ready: connected, and holding partitions
        sent = events(f"sasl-{uuid.uuid4().hex[:6]}", 40)
        assert pipeline.post(sent) == 200
        expected = {event_id(e) for e in sent}
        wait_for(
            lambda: set(emulator_event_ids(personalize_emulator.url)) == expected,
            60,
            "every event at the emulator, by eventId",
        )
        wait_for(
            lambda: (
                sum(len(p.read_text().splitlines()) for p in pipeline.history_dir.glob("*.csv"))
                >= len(sent)
            ),
            60,
            "every interaction in the history files",
        )
        # Recommendations' listener reads the interactions over SASL: a strong one (an upvote)
        # drops the user's cached answers.
        user = "sasl-reader"
        pipeline.cached(user)
        assert pipeline.cached(user)
        upvote = {**events("upvote", 1)[0], "event_type": "upvote", "user_id": user}
        assert pipeline.post([upvote]) == 200
        wait_for(lambda: not pipeline.cached(user), 60, "the user's cached answers dropped")
        for name, service in pipeline.services.items():
            assert answers_ok(service.ready_url), name
            assert PASSWORD not in pipeline.log(name), f"{name} logged the SASL password"
    finally:
        pipeline.stop()


def test_a_wrong_password_fails_readiness_with_a_clear_error_and_writes_nothing(
    secured_kafka: EmbeddedKafka, personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    pipeline = Pipeline(secured_kafka, personalize_emulator, tmp_path, "not-the-password")
    topics = pipeline.topics
    # Input waiting for streams and the sink (written over PLAINTEXT): they must not touch it.
    producer = Producer({"bootstrap.servers": secured_kafka.bootstrap_servers})
    for event in events("waiting", 10):
        producer.produce(topics.raw_topic, orjson.dumps(event), str(event["user_id"]).encode())
    interaction = {
        "event_id": "e-1",
        "user_id": "u-1",
        "session_id": "s-1",
        "item_id": "i-1",
        "event_type": "click",
        "personalize_event_type": "click",
        "weight": 1.0,
        "timestamp_ms": 1700000000000,
    }
    producer.produce(topics.interactions_topic, orjson.dumps(interaction), b"u-1")
    assert producer.flush(10) == 0
    try:
        for service in pipeline.services.values():
            service.launch()
        for name in pipeline.services:
            wait_for(
                lambda name=name: "Authentication failed" in pipeline.log(name),  # type: ignore[misc]
                60,
                f"{name} to log the SASL authentication failure",
            )
        assert pipeline.post(events("refused", 5)) == 503
        for name, service in pipeline.services.items():
            assert not answers_ok(service.ready_url), f"{name} ready with a wrong password"
            assert "not-the-password" not in pipeline.log(name), f"{name} logged the password"
    finally:
        pipeline.stop(kill=True)  # none of them started: nothing to stop gracefully
    raw = TopicReader(secured_kafka.bootstrap_servers, topics.raw_topic)
    interactions = TopicReader(secured_kafka.bootstrap_servers, topics.interactions_topic)
    try:
        assert len(raw.read(10)) == 10 and len(interactions.read(1)) == 1
        assert len(raw.poll()) == 10 and len(interactions.poll()) == 1  # nothing written
    finally:
        raw.close()
        interactions.close()
    assert personalize_emulator.stats()["events"] == 0
    assert committed_total(topics, pipeline.groups["sink"]) == 0
    assert not list(pipeline.history_dir.glob("*.csv"))


@pytest.mark.parametrize("service", ["ingest", "streams", "sink", "history", "recommendations"])
def test_a_config_that_weakens_delivery_refuses_start_up(service: str) -> None:
    weakened = {**orjson.loads(client_config(PASSWORD)), "acks": 1, "enable.auto.commit": True}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # never reached: it stops before connecting
        "KAFKA_CLIENT_CONFIG": orjson.dumps(weakened).decode(),
        "AMPLITUDE_WEBHOOK_SECRET": SECRET,
        "AWS_PERSONALIZE_TRACKING_ID": "tracker-1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", service],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    said = result.stderr.decode()
    assert result.returncode != 0
    assert f"{service}: refusing to start" in said
    assert "acks=1: every producer needs acks=all" in said and "enable.auto.commit" in said
    assert PASSWORD not in said


def test_the_stream_stage_refuses_what_it_cannot_give_faust() -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "KAFKA_CLIENT_CONFIG": orjson.dumps(
            {"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}
        ).decode(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "streams"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "streams: refusing to start" in result.stderr.decode()
    assert "OAUTHBEARER" in result.stderr.decode()
