"""confluent-kafka client configurations and topic creation, in one place."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic, TopicDescription

from core.settings import KafkaSettings

log = logging.getLogger(__name__)

# librdkafka's own log lines (a refused connection, a failed authentication) as log records, in
# the services' one format (core/logs.py), rather than its plain `%3|...` lines on stderr.
# confluent-kafka queues them for poll(), flush(), consume() and close() to serve: a client that
# is never polled must not get it, or its lines wait unserved. The admin client's calls serve
# none (confluent-kafka 2.16 serves them from AdminClient.poll() only), so each admin call here
# polls once when it returns or raises (`_serving_logs`).
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")


def produce_when_room(producer: Producer, topic: str, value: bytes, **kwargs: Any) -> None:
    """`producer.produce`, waiting for room while librdkafka's local queue is full (polling
    serves the acknowledgements that empty it): for writers that must not drop a record."""
    while True:
        try:
            producer.produce(topic, value, **kwargs)
            return
        except BufferError:
            producer.poll(0.1)


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """A durable producer: idempotent, acks from all in-sync replicas, small linger for batching.

    Keys are placed by murmur2, as Kafka's Java clients do (librdkafka's own default is CRC32):
    a user's records land on the partition a Java or Kafka Streams application expects, and on
    the same partition number in every pipeline topic of the same partition count."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "partitioner": "murmur2_random",
        # Records are sized against this before they are produced (core/record_size.py).
        "message.max.bytes": settings.kafka_message_max_bytes,
        "logger": LIBRDKAFKA_LOGGER,
        **settings.client_overrides(),
    }
    config.update(overrides)
    return config


OffsetReset = Literal["earliest", "latest"]


def consumer_config(
    settings: KafkaSettings, group_id: str, *, offset_reset: OffsetReset, **overrides: Any
) -> dict[str, Any]:
    """A consumer that commits only when told to: offsets follow delivery, never precede it.

    `offset_reset` is where a group starts with no committed offset (a new group, or one whose
    offsets expired) or with one below the retained log: each consumer chooses it on purpose
    (docs/kafka.md)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": offset_reset,
        "session.timeout.ms": settings.kafka_session_timeout_ms,
        "heartbeat.interval.ms": max(500, settings.kafka_session_timeout_ms // 6),
        "logger": LIBRDKAFKA_LOGGER,
        **settings.client_overrides(),
    }
    config.update(overrides)
    return config


def admin_client(settings: KafkaSettings) -> AdminClient:
    """An admin client whose log lines the admin calls below serve (`_serving_logs`)."""
    return AdminClient(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "logger": LIBRDKAFKA_LOGGER,
            **settings.client_overrides(),
        }
    )


@contextmanager
def _serving_logs(admin: AdminClient) -> Iterator[None]:
    """Hands librdkafka's queued log lines to logging once the admin call is over."""
    try:
        yield
    finally:
        admin.poll(0)


def create_topics(
    admin: AdminClient, topics: list[NewTopic], timeout: float = 30.0
) -> dict[str, TopicDescription]:
    """Create the topics that do not exist yet (existing ones are left alone, as they are),
    and return each one's description once it is served with a leader for each partition.

    Kafka answers CreateTopics once the controller has the topic; the brokers learn of it a
    moment later, each on its own, and until then DescribeTopics (answered by any broker)
    shows it with no partitions. So the description to act on is the one seen served here,
    not a later DescribeTopics, which may reach a broker that has not caught up."""
    with _serving_logs(admin):
        return _create_topics(admin, topics, timeout)


def _create_topics(
    admin: AdminClient, topics: list[NewTopic], timeout: float
) -> dict[str, TopicDescription]:
    deadline = time.monotonic() + timeout
    for name, future in admin.create_topics(topics, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            log.info("created topic", extra={"topic": name})
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    served: dict[str, TopicDescription] = {}
    for topic in topics:
        while (description := _served(admin, topic.topic, deadline)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic.topic!r} not served after {timeout}s")
            time.sleep(0.05)  # a state of the cluster to poll, with a deadline
        served[topic.topic] = description
    return served


def _served(admin: AdminClient, topic: str, deadline: float) -> TopicDescription | None:
    try:
        description = describe_topic(admin, topic, max(0.1, deadline - time.monotonic()))
    except KafkaException:
        return None  # e.g. the leader is being elected: asked again
    if description is None or not description.partitions:
        return None
    if any(p.leader is None for p in description.partitions):
        return None
    return description


def describe_topic(
    admin: AdminClient, topic: str, timeout: float = 30.0
) -> TopicDescription | None:
    """The topic's id and partitions, or None when it does not exist.

    DescribeTopics, the admin API for it: it answers with the topic id (the delivery log keys
    its records by it) and never creates the topic, as a metadata request can on a broker with
    `auto.create.topics.enable` (Kafka's default) when the client allows it."""
    with _serving_logs(admin):
        future = admin.describe_topics(TopicCollection([topic]))[topic]
        try:
            description: TopicDescription = future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return None
            raise
        return description


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> None:
    """Create every pipeline topic that does not exist yet, with its replication, min.insync
    and retention settings (existing ones are left alone: change them with kafka-configs)."""
    new = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication_factor, config=config)
        for name, config in settings.topic_configs().items()
    ]
    create_topics(admin_client(settings), new, timeout)
