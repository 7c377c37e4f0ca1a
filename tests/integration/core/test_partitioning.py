"""Keys land where Kafka's Java clients put them (murmur2) with the producer configuration every
stage uses: checked against aiokafka's port of the Java default partitioner."""

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Producer

from core.kafka import producer_config
from core.settings import KafkaSettings
from tests.fixtures.kafka_fixture import TopicReader


def test_the_pipelines_producers_place_keys_as_java_clients_do(
    kafka_settings: KafkaSettings,
) -> None:
    topic, partitions = kafka_settings.raw_topic, list(range(kafka_settings.topic_partitions))
    keys = [f"user-{n}".encode() for n in range(60)]
    producer = Producer(producer_config(kafka_settings))
    for key in keys:
        producer.produce(topic, b"{}", key)
    assert producer.flush(10) == 0
    reader = TopicReader(kafka_settings.kafka_bootstrap_servers, topic)
    try:
        placed = {m.key(): m.partition() for m in reader.read(len(keys))}
    finally:
        reader.close()
    java = DefaultPartitioner()
    assert placed == {key: java(key, partitions, partitions) for key in keys}
