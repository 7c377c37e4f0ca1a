"""A three-broker Apache Kafka cluster for the failure tests, and what they ask of it.

Each module that uses `kafka_cluster` gets its own cluster (it kills and restarts brokers, so
it is never the session's shared broker). Topics get replication factor 3 and, from the
cluster's default, `min.insync.replicas` 2: a production cluster's shape.
"""

from collections.abc import Iterator

import pytest
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.broker import EmbeddedKafka
from pipeline.kafka import create_topics
from tests.kafka_fixture import wait_for

BROKERS = 3
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[EmbeddedKafka]:
    cluster = EmbeddedKafka(brokers=BROKERS).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def admin(cluster: EmbeddedKafka) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap_servers, "log_level": 0})


def create_led_by(cluster: EmbeddedKafka, leader: int, topics: list[str], partitions: int) -> None:
    """Create `topics` with every partition's preferred leader on node `leader`: killing it
    moves the leadership of all of them at once."""
    followers = [n for n in range(1, BROKERS + 1) if n != leader]
    assignment = [[leader, *followers]] * partitions
    create_topics(
        admin(cluster),
        [
            NewTopic(
                t,
                num_partitions=partitions,
                replica_assignment=assignment,
                config={"min.insync.replicas": "2"},
            )
            for t in topics
        ],
    )


def leaders(cluster: EmbeddedKafka, topics: list[str]) -> dict[str, list[int]]:
    """Each topic's partition leaders, by partition (-1: none)."""
    client = admin(cluster)  # held until the futures are done: a freed client fails them
    described = client.describe_topics(TopicCollection(topics))
    out: dict[str, list[int]] = {}
    for topic, future in described.items():
        description = future.result(10)
        out[topic] = [
            p.leader.id if p.leader is not None else -1
            for p in sorted(description.partitions, key=lambda p: p.id)
        ]
    return out


def fully_replicated(cluster: EmbeddedKafka) -> bool:
    """True when every partition of every topic (Kafka's own included) has a leader and all
    its replicas in sync: what a rolling restart waits for before it stops the next broker."""
    try:
        topics = admin(cluster).list_topics(timeout=5).topics.values()
        return all(
            p.leader >= 0 and len(p.isrs) == len(p.replicas)
            for t in topics
            for p in t.partitions.values()
        )
    except Exception:
        return False


def wait_fully_replicated(cluster: EmbeddedKafka, timeout: float = 90) -> None:
    wait_for(lambda: fully_replicated(cluster), timeout, "every partition fully replicated")
