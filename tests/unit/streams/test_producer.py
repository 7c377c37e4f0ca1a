"""The streams stage's producer without a broker: it never blocks the event loop for room, and
records Kafka did not acknowledge fail the batch (librdkafka itself, nothing stubbed)."""

import time

import pytest

from devtools.kafka_broker import free_port
from streams.producer import BatchProducer, DeliveryFailed


def _unreachable(**config: object) -> BatchProducer:
    """A producer whose broker does not answer: everything stays queued."""
    return BatchProducer(
        {"bootstrap.servers": f"127.0.0.1:{free_port()}", "log_level": 0, **config},
        flush_timeout=0.3,
    )


def test_a_full_queue_fails_the_batch_at_once_instead_of_waiting_for_room() -> None:
    producer = _unreachable(**{"queue.buffering.max.messages": 2})
    producer.produce("t", b"1")
    producer.produce("t", b"2")
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="queue is full"):
        producer.produce("t", b"3")
    assert time.monotonic() - started < 0.05  # no waiting on the event loop's thread


async def test_records_not_acknowledged_in_time_fail_the_batch() -> None:
    producer = _unreachable()
    producer.produce("t", b"1")
    with pytest.raises(DeliveryFailed, match=r"1 records not acknowledged in 0\.3s"):
        await producer.delivered()


async def test_a_record_kafka_never_acknowledges_fails_the_batch_with_its_error() -> None:
    # Reports of failed records only (not of every record): the failure still reaches the batch.
    producer = _unreachable(**{"message.timeout.ms": 100})
    producer._flush_timeout = 5.0
    producer.produce("t", b"1")
    with pytest.raises(DeliveryFailed, match=r"t: .*[Tt]imed out"):
        await producer.delivered()
