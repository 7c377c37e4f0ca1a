"""The one place tests get a Kafka broker from, and the helpers to read topics and await data.

Order: `KAFKA_BOOTSTRAP_SERVERS` when set; else testcontainers' Kafka when a Docker engine
answers (checked in a second: machines without Docker must not wait); else the embedded
Apache Kafka (pipeline.broker), the version that deployments run.
"""

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from pipeline.broker import EmbeddedKafka
from pipeline.kafka import ensure_topics
from pipeline.settings import KafkaSettings

T = TypeVar("T")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """host:port of a real Apache Kafka for the whole test session."""
    say = request.config.pluginmanager.get_plugin("terminalreporter")
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
    else:
        with EmbeddedKafka() as broker:
            if say is not None:
                say.write_line(
                    f"\nembedded Apache Kafka {broker.version} on {broker.bootstrap_servers}"
                )
            yield broker.bootstrap_servers


def own_topics(bootstrap: str) -> KafkaSettings:
    """Settings with topics of their own (created, empty) on `bootstrap`, so tests never share."""
    suffix = uuid.uuid4().hex[:8]
    settings = KafkaSettings(
        kafka_bootstrap_servers=bootstrap,
        raw_topic=f"raw-{suffix}",
        interactions_topic=f"interactions-{suffix}",
        raw_dead_letter_topic=f"raw-dlq-{suffix}",
        interactions_dead_letter_topic=f"interactions-dlq-{suffix}",
        topic_partitions=3,
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """This test's own topics on the session's broker."""
    return own_topics(kafka_bootstrap)


def committed_total(settings: KafkaSettings, group_id: str) -> int:
    """Sum over the interactions topic's partitions of `group_id`'s committed offsets (0 where
    none): what a group has acknowledged, read without joining it."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group_id}
    )
    try:
        partitions = [
            TopicPartition(settings.interactions_topic, p) for p in range(settings.topic_partitions)
        ]
        return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()


def topic_env(settings: KafkaSettings) -> dict[str, str]:
    """The environment a service process needs to use these settings' broker and topics."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "RAW_TOPIC": settings.raw_topic,
        "INTERACTIONS_TOPIC": settings.interactions_topic,
        "RAW_DEAD_LETTER_TOPIC": settings.raw_dead_letter_topic,
        "INTERACTIONS_DEAD_LETTER_TOPIC": settings.interactions_dead_letter_topic,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
    }


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


async def wait_for_async(
    condition: Callable[[], Awaitable[T]], within: float = 30.0, what: str = "condition"
) -> T:
    """`wait_for` for coroutines: await `condition` until truthy, without blocking the loop."""
    try:
        async with asyncio.timeout(within):
            # The condition is another process's answer: there is no event to await, so poll it.
            while not (result := await condition()):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return result
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


class TopicReader:
    """Read a topic from the beginning by manual assignment (no group join, no commits)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

    def poll(self) -> list[Message]:
        for message in self._consumer.consume(1000, 0.1):
            if message.error() is None:
                self.messages.append(message)
        return self.messages

    def read(self, count: int, timeout: float = 30.0) -> list[Message]:
        """At least `count` messages, waiting up to `timeout`."""
        wait_for(lambda: len(self.poll()) >= count, timeout, f"{count} messages on {self.topic}")
        return self.messages

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def topic_reader(kafka_bootstrap: str) -> Iterator[Callable[[str], TopicReader]]:
    readers: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        reader = TopicReader(kafka_bootstrap, topic)
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.close()


def kcat(*args: str, timeout: float = 30.0) -> str:
    """Run Debian's kcat (a real, independent Kafka client, as a user has it) and return stdout."""
    binary = shutil.which("kcat")
    assert binary, "kcat is not installed (apt-get install kcat)"
    result = subprocess.run([binary, *args], capture_output=True, check=False, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"kcat {' '.join(args)} failed: {result.stderr.decode()[-1000:]}")
    return result.stdout.decode()
