"""confluent-kafka client configurations and topic creation, in one place."""

import logging
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic, TopicDescription

from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """A durable producer: idempotent, acks from all in-sync replicas, small linger for batching."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # Records are sized against this before they are produced (pipeline/record_size.py).
        "message.max.bytes": settings.kafka_message_max_bytes,
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
        **settings.client_overrides(),
    }
    config.update(overrides)
    return config


def admin_client(settings: KafkaSettings) -> AdminClient:
    return AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, **settings.client_overrides()}
    )


def create_topics(admin: AdminClient, topics: list[NewTopic], timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet (existing ones are left alone, as they are)."""
    for name, future in admin.create_topics(topics, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            log.info("created topic", extra={"topic": name})
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def describe_topic(
    admin: AdminClient, topic: str, timeout: float = 30.0
) -> TopicDescription | None:
    """The topic's id and partitions, or None when it does not exist.

    DescribeTopics, not a metadata request: Tansu creates a topic a metadata request names."""
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
