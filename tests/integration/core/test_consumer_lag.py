"""Consumer lag from inside a service: high watermark minus the group's committed offset."""

from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import REGISTRY

from core.consumer_lag import LagReporter
from core.settings import KafkaSettings
from tests.fixtures.kafka_fixture import wait_for


def lag(group: str, topic: str) -> float:
    return sum(
        REGISTRY.get_sample_value(
            "kafka_consumergroup_lag",
            {"consumergroup": group, "topic": topic, "partition": str(p)},
        )
        or 0.0
        for p in range(3)
    )


def test_lag_follows_produce_and_commit(kafka_settings: KafkaSettings) -> None:
    topic, group = kafka_settings.interactions_topic, "lag-test-group"
    producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
    for n in range(9):  # three batches of three records, one per partition
        producer.produce(topic, b"x", str(n).encode(), partition=n % 3)
    assert producer.flush(10) == 0
    reporter = LagReporter(kafka_settings, group, topic, interval=0.2).start()
    try:
        wait_for(lambda: lag(group, topic) == 9, what="lag of 9 with nothing committed")
        committer = Consumer(
            {"bootstrap.servers": kafka_settings.kafka_bootstrap_servers, "group.id": group}
        )
        committer.commit(
            offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 1)], asynchronous=False
        )
        committer.close()
        wait_for(lambda: lag(group, topic) == 5, what="lag of 5 after committing 4")
    finally:
        reporter.stop()
