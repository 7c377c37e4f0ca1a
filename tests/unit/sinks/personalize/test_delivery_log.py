"""The delivery log's bookkeeping: which log offset to commit with a source watermark, and
one record per partition per loop turn (no broker: a producer stand-in acknowledges)."""

from collections.abc import Callable
from typing import Any

import orjson

from sinks.personalize import SinkSettings
from sinks.personalize.batcher import Call, Pending
from sinks.personalize.delivery_log import DeliveryLog, LogPositions, LogRecord


def test_commit_offset_is_the_oldest_record_still_listing_an_offset_at_or_above_the_watermark() -> (
    None
):
    positions = LogPositions()
    records = [LogRecord(highest) for highest in (14, 30, 22)]
    for offset, record in enumerate(records, start=100):
        positions.written(0, record)
        positions.acknowledged(0, offset, record)
    assert positions.commit_offset(0, 10) == 100
    assert positions.commit_offset(0, 15) == 101  # the first lists nothing at or above 15
    # The third (highest 22) is not needed at 25, but the second (30) still is: read from it.
    assert positions.commit_offset(0, 25) == 101
    assert positions.commit_offset(0, 31) == 103  # none needed: past everything written


def test_a_record_not_acknowledged_yet_is_read_from_above_the_highest_acknowledged_one() -> None:
    positions = LogPositions()
    assert positions.commit_offset(0, 0) is None  # nothing known: keep what is committed
    positions.acknowledged(0, 41)  # the assignment's marker
    assert positions.commit_offset(0, 0) == 42
    first, second = LogRecord(5), LogRecord(9)
    positions.written(0, first)
    positions.written(0, second)
    assert positions.commit_offset(0, 0) == 42  # both in flight: they land at 42 or above
    positions.acknowledged(0, 42, first)
    assert positions.commit_offset(0, 0) == 42
    assert positions.commit_offset(0, 6) == 43  # only the second is needed, not stored yet
    positions.acknowledged(0, 43, second)
    assert positions.commit_offset(0, 6) == 43


def test_a_record_that_failed_is_not_waited_for() -> None:
    positions = LogPositions()
    positions.acknowledged(0, 7)
    failed, stored = LogRecord(50), LogRecord(60)
    positions.written(0, failed)
    positions.written(0, stored)
    failed.failed = True
    positions.acknowledged(0, 8, stored)
    assert positions.commit_offset(0, 0) == 8


def test_records_read_back_on_assignment_hold_the_offset_until_the_watermark_passes_them() -> None:
    positions = LogPositions()
    positions.acknowledged(0, 500)  # the marker the assignment read up to
    positions.restored(0, 120, highest=330)  # records from 120 on list offsets up to 330
    positions.written(0, own := LogRecord(400))
    positions.acknowledged(0, 501, own)
    assert positions.commit_offset(0, 200) == 120
    assert positions.commit_offset(0, 330) == 120
    assert positions.commit_offset(0, 331) == 501


def test_partitions_are_separate_and_forgotten_on_revocation() -> None:
    positions = LogPositions()
    positions.written(0, zero := LogRecord(3))
    positions.written(1, one := LogRecord(3))
    positions.acknowledged(0, 10, zero)
    positions.acknowledged(1, 20, one)
    assert (positions.commit_offset(0, 0), positions.commit_offset(1, 0)) == (10, 20)
    positions.forget([0])
    assert positions.commit_offset(0, 0) is None and positions.commit_offset(1, 0) == 20


class FakeProducer:
    """Keeps what was produced; `acknowledge` plays Kafka's answers, in produce order."""

    def __init__(self) -> None:
        self.produced: list[tuple[str, int, bytes, Any]] = []
        self._answers: list[tuple[int, Callable[[None, _Message], None]]] = []
        self._next = {0: 0, 1: 0}

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        partition: int,
        on_delivery: Callable[[None, "_Message"], None],
    ) -> None:
        self.produced.append((topic, partition, key, orjson.loads(value)))
        self._answers.append((partition, on_delivery))

    def acknowledge(self, error: Any = None, offset_known: bool = True) -> None:
        """Kafka's answer to everything produced since: stored, or refused with `error`.
        Stored with no offset known: librdkafka's answer to a retried idempotent write the
        broker already had."""
        for partition, on_delivery in self._answers:
            offset = self._next[partition] if offset_known else None
            on_delivery(error, _Message(partition, offset))
            if error is None:
                self._next[partition] += 1
        self._answers.clear()


class _Message:
    def __init__(self, partition: int, offset: int | None) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int | None:
        return self._offset  # None, as confluent-kafka's, when Kafka gave none


def call(partition: int, *offsets: int) -> Call:
    return Call(partition, "u", "s", [Pending(partition, o, {}, b"") for o in offsets])


def delivery_log(producer: FakeProducer, write: bool = True) -> DeliveryLog:
    settings = SinkSettings(interactions_topic="interactions", sink_group_id="sink")
    log = DeliveryLog(settings, producer, write=write)  # type: ignore[arg-type]
    log._partitions, log._topic_id = 2, "topic-id"  # what prepare() finds on the broker
    return log


def test_one_record_per_partition_per_turn_and_calls_in_flight_until_acknowledged() -> None:
    producer = FakeProducer()
    log = delivery_log(producer)
    assert log.topic == "interactions.sink.delivered"
    log.delivered(call(0, 5, 7))
    log.delivered(call(0, 6))
    log.delivered(call(1, 3))
    log.write()
    topic = "interactions.sink.delivered"
    assert producer.produced == [
        (topic, 0, b"0", {"topic_id": "topic-id", "offsets": [5, 7, 6]}),
        (topic, 1, b"1", {"topic_id": "topic-id", "offsets": [3]}),
    ]
    assert log.unacknowledged_calls == 3
    assert log.commit_offsets({0: 5}) == []  # no offset known yet: nothing to commit
    producer.acknowledge()
    assert log.unacknowledged_calls == 0
    committed = log.commit_offsets({0: 5, 1: 4})
    assert [(tp.topic, tp.partition, tp.offset) for tp in committed] == [
        (topic, 0, 0),
        (topic, 1, 1),  # its one record lists 3, below 4: a restart reads after it
    ]
    log.write()
    assert len(producer.produced) == 2  # nothing delivered since: nothing written


def test_dry_run_records_nothing() -> None:
    producer = FakeProducer()
    log = delivery_log(producer, write=False)
    log.delivered(call(0, 1))
    log.write()
    assert producer.produced == [] and log.unacknowledged_calls == 0


def test_a_record_kafka_refused_is_counted_and_its_calls_no_longer_wait() -> None:
    from prometheus_client import REGISTRY

    def failures() -> float:
        return REGISTRY.get_sample_value("sink_delivery_log_failures_total") or 0.0

    producer = FakeProducer()
    log = delivery_log(producer)
    before = failures()
    log.delivered(call(0, 5))
    log.delivered(call(0, 6))
    log.write()
    producer.acknowledge(error="KafkaError{code=MSG_TIMED_OUT}")
    assert failures() == before + 1
    assert log.unacknowledged_calls == 0  # not in flight any more: a crash would re-send them
    assert log.commit_offsets({0: 5}) == []  # nothing stored: no log offset to commit


def test_a_record_stored_at_an_unknown_offset_is_counted_as_not_written() -> None:
    """After a broker restart an idempotent retry can be acknowledged with no offset: the
    callback must not raise (it would stop the sink), and nothing is committed on its word."""
    producer = FakeProducer()
    log = delivery_log(producer)
    log.delivered(call(0, 5))
    log.write()
    producer.acknowledge(offset_known=False)
    assert log.unacknowledged_calls == 0
    assert log.commit_offsets({0: 5}) == []  # no log offset known: the committed one stays
    log.delivered(call(0, 6))
    log.write()
    producer.acknowledge()
    [committed] = log.commit_offsets({0: 5})
    assert committed.offset == 1  # the next record, the one with an offset
