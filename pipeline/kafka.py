"""confluent-kafka client configurations and topic creation, in one place."""

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """A durable producer: idempotent, acks from all in-sync replicas, small linger for batching."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        **settings.client_overrides(),
    }
    config.update(overrides)
    return config


def consumer_config(settings: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer that commits only when told to: offsets follow delivery, never precede it."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.kafka_session_timeout_ms,
        "heartbeat.interval.ms": max(500, settings.kafka_session_timeout_ms // 6),
        **settings.client_overrides(),
    }
    config.update(overrides)
    return config


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> None:
    """Create every pipeline topic that does not exist yet (existing ones are left alone)."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, **settings.client_overrides()}
    )
    new = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
        for name in settings.all_topics
    ]
    for name, future in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            log.info("created topic", extra={"topic": name})
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
