"""KafkaWriter against the real broker when librdkafka's local queue is full: the request waits
for room and resumes where it stopped, each record written once and in order."""

from collections.abc import Callable

from core.kafka import producer_config
from ingest.producer import KafkaWriter
from tests.fixtures.kafka_fixture import TopicReader, own_topics


async def test_a_full_local_queue_resumes_where_it_stopped(
    kafka_bootstrap: str, topic_reader: Callable[[str], TopicReader]
) -> None:
    settings = own_topics(kafka_bootstrap)
    # Room for 3 messages: a 20-record write meets BufferError again and again.
    writer = KafkaWriter(producer_config(settings, **{"queue.buffering.max.messages": 3}))
    try:
        records = [
            (settings.raw_topic, b"one-key", b"%d" % n, [("n", b"%d" % n)]) for n in range(20)
        ]
        await writer.write(records, 30.0)
    finally:
        writer.close()
    values = [m.value() for m in topic_reader(settings.raw_topic).read(20)]
    assert values == [b"%d" % n for n in range(20)]  # none lost, none twice, in order
