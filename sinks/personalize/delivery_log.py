"""The delivery log: which interactions Personalize accepted above the committed offsets.

Interactions finish out of order (a group lingers while younger records of its partition are
delivered), so a partition's committed offset trails what was delivered, and a restarted sink
re-reads those records. So that it does not re-send them, the sink writes the source offsets
of every accepted PutEvents call to a topic of its own: one record per source partition per
loop turn, to the log partition of the same number. Each commit of a source watermark C also
commits, for that log partition and in the same OffsetCommit, the log offset of the oldest
record still listing an offset >= C (`LogPositions`). On assignment the sink writes a marker
record, reads the log from that committed offset up to the marker, and skips what it lists.

Records are written only after Personalize answered 200, so they are always true: a record
lost, unread or given up on costs re-sends, never an event. Why a topic and not Kafka's
OffsetCommit metadata (a tighter re-send bound, no 4 KB cap): docs/delivery-log.md.

A record's value is {"topic_id": <the interactions topic's id>, "offsets": [...]}; the topic id
makes the records of a deleted and recreated interactions topic (offsets restart) ignored.
"""

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

import orjson
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import NewTopic

from core.kafka import admin_client, consumer_config, create_topics, describe_topic
from sinks.personalize import metrics
from sinks.personalize.batcher import Call
from sinks.personalize.settings import SinkSettings

log = logging.getLogger(__name__)

_DAY_MS = 24 * 3600 * 1000
_READ_ROUND_SECONDS = 0.02
# Only the records after the committed log offsets are ever read, and a restart needs them
# only if it comes within the retention: a week, in segments of a day so old ones do go.
TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": str(7 * _DAY_MS),
    "segment.ms": str(_DAY_MS),
}


@dataclass(slots=True)
class LogRecord:
    """One delivery-log record the sink wrote (or read back on assignment)."""

    highest: int  # the highest source offset it lists: needed while the watermark is <= it
    calls: int = 0  # the PutEvents calls it records: in flight until it is acknowledged
    offset: int = -1  # its log offset, once Kafka acknowledged it
    failed: bool = False  # never written: its calls are re-sent after a crash


class LogPositions:
    """Per partition, the log records a restart may still need, and so the log offset to commit.

    One idempotent producer keeps a partition's records in produce order and acknowledges them
    in that order: a record not acknowledged yet lands above every acknowledged one, so the
    highest acknowledged offset + 1 is a safe place to start reading from until it is."""

    def __init__(self) -> None:
        self._records: dict[int, deque[LogRecord]] = {}  # per partition, in produce order
        self._acknowledged: dict[int, int] = {}  # per partition, the highest acknowledged offset

    def written(self, partition: int, record: LogRecord) -> None:
        self._records.setdefault(partition, deque()).append(record)

    def acknowledged(self, partition: int, offset: int, record: LogRecord | None = None) -> None:
        """Kafka stored `record` (or a marker, with no record) at `offset`."""
        if record is not None:
            record.offset = offset
        if offset > self._acknowledged.get(partition, -1):
            self._acknowledged[partition] = offset

    def restored(self, partition: int, offset: int, highest: int) -> None:
        """Records read back on assignment, from `offset` on, list offsets up to `highest`."""
        self._records.setdefault(partition, deque()).appendleft(LogRecord(highest, offset=offset))

    def commit_offset(self, partition: int, watermark: int) -> int | None:
        """The log offset to commit with the source `watermark`: a restart reads from there.
        None when nothing is known (keep the committed one: it is lower, so still right)."""
        records = self._records.get(partition)
        while records and (records[0].failed or records[0].highest < watermark):
            records.popleft()  # lists nothing a restart at `watermark` re-reads
        if records and records[0].offset >= 0:
            return records[0].offset
        acknowledged = self._acknowledged.get(partition)
        return None if acknowledged is None else acknowledged + 1

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._records.pop(partition, None)
            self._acknowledged.pop(partition, None)


@dataclass(slots=True)
class _Turn:
    """What one partition delivered during one loop turn: one log record."""

    offsets: list[int] = field(default_factory=list)
    calls: int = 0


class DeliveryLog:
    """Writes what Personalize accepted, says where to read from, reads it back on assignment."""

    def __init__(self, settings: SinkSettings, producer: Producer, write: bool = True) -> None:
        self.topic = settings.delivery_log_topic
        self._settings = settings
        self._producer = producer
        self._write = write  # False in dry run: nothing was accepted, so nothing is recorded
        self._positions = LogPositions()
        self._turn: dict[int, _Turn] = {}
        self._keys: dict[int, bytes] = {}
        self._topic_id = ""
        self._partitions = 0
        self.unacknowledged_calls = 0  # delivered calls whose record Kafka has not stored yet

    def prepare(self, timeout: float = 30.0) -> None:
        """Create the log topic with the interactions topic's partitions (start-up); refuse to
        start when it exists with fewer, since partition p's offsets go to log partition p."""
        admin = admin_client(self._settings)
        source_topic = self._settings.interactions_topic
        source = describe_topic(admin, source_topic, timeout)
        if source is None:
            raise SystemExit(
                f"the interactions topic {source_topic!r} does not exist: create the topics "
                "first (`pipeline topics`)"
            )
        wanted = len(source.partitions)
        new = NewTopic(
            self.topic,
            wanted,
            self._settings.topic_replication_factor,
            config={**TOPIC_CONFIG, **self._settings.min_insync_replicas_config()},
        )
        have = len(create_topics(admin, [new], timeout)[self.topic].partitions)
        if have < wanted:
            raise SystemExit(
                f"the delivery log topic {self.topic!r} has {have} partitions and the "
                f"interactions topic {wanted}: add partitions to it (kafka-topics.sh --alter "
                f"--topic {self.topic} --partitions {wanted}) or delete it"
            )
        self._topic_id = str(source.topic_id)
        self._partitions = have

    # -- writing, on the poll thread -----------------------------------------------------------

    def delivered(self, call: Call) -> None:
        """Personalize accepted `call`: its offsets go into this turn's record."""
        if not self._write:
            return
        turn = self._turn.get(call.partition)
        if turn is None:
            turn = self._turn[call.partition] = _Turn()
        turn.offsets.extend([item.offset for item in call.items])
        turn.calls += 1

    def write(self) -> None:
        """Produce this turn's records, one per partition that delivered something."""
        if not self._turn:
            return
        for partition, turn in self._turn.items():
            if partition >= self._partitions:
                continue  # added to the interactions topic since start-up: re-sent if it crashes
            record = LogRecord(max(turn.offsets), turn.calls)
            value = orjson.dumps({"topic_id": self._topic_id, "offsets": turn.offsets})
            try:
                self._producer.produce(
                    self.topic,
                    value,
                    self._key(partition),
                    partition,
                    on_delivery=partial(self._acknowledged, partition, record),
                )
            except (BufferError, KafkaException) as exc:
                metrics.DELIVERY_LOG_FAILURES.inc()
                log.warning("delivery log not written", extra={"error": str(exc)})
                continue
            self.unacknowledged_calls += turn.calls
            self._positions.written(partition, record)
        self._turn.clear()

    def _acknowledged(
        self, partition: int, record: LogRecord, error: KafkaError | None, message: Message
    ) -> None:
        self.unacknowledged_calls -= record.calls
        offset = _stored_at(error, message)
        if offset is None:
            record.failed = True
            metrics.DELIVERY_LOG_FAILURES.inc()
            log.warning(
                "delivery log record not acknowledged at an offset: a crash now would re-send "
                "its calls",
                extra={"error": str(error), "partition": partition, "calls": record.calls},
            )
            return
        self._positions.acknowledged(partition, offset, record)

    def _key(self, partition: int) -> bytes:
        key = self._keys.get(partition)
        if key is None:
            key = self._keys[partition] = str(partition).encode()
        return key

    # -- committing and assignment -------------------------------------------------------------

    def commit_offsets(self, watermarks: dict[int, int]) -> list[TopicPartition]:
        """The log offsets to commit with these source watermarks, in the same request."""
        offsets = []
        for partition, watermark in watermarks.items():
            offset = self._positions.commit_offset(partition, watermark)
            if offset is not None:
                offsets.append(TopicPartition(self.topic, partition, offset))
        return offsets

    def restore(self, watermarks: dict[int, int], starts: dict[int, int]) -> dict[int, set[int]]:
        """On assignment: per partition, the source offsets >= its committed `watermarks` that
        were delivered, read from the committed log offsets `starts` (negative: none, from the
        first record) up to a marker written now (its offset comes with its acknowledgement: no
        end-offset request, and nothing this producer wrote can be above it). Takes at most
        `sink_delivery_log_read_timeout_seconds`; what it did not read is re-sent. It runs in
        the rebalance callback (as Kafka Connect's onPartitionsAssigned work does): polling
        waits for it, the group's heartbeats do not."""
        started = time.monotonic()
        deadline = started + self._settings.sink_delivery_log_read_timeout_seconds
        ends = self._write_markers([p for p in watermarks if p < self._partitions], deadline)
        # From 0 when none is committed (below the log's start, the reader resets to it);
        # OFFSET_BEGINNING would ask the broker for the start first: one more round trip.
        starts = {p: max(starts.get(p, 0), 0) for p in ends}
        ends = {p: end for p, end in ends.items() if starts[p] < end}
        delivered: dict[int, set[int]] = {}
        if ends:
            first = self._read(starts, ends, watermarks, deadline, delivered)
            for partition, offsets in delivered.items():
                self._positions.restored(partition, first[partition], max(offsets))
        extra = {
            "already_delivered": {str(p): len(o) for p, o in delivered.items()},
            "seconds": round(time.monotonic() - started, 3),
        }
        if ends:
            log.warning(
                "gave up reading the delivery log: what it did not read is re-sent",
                extra={**extra, "unread_partitions": sorted(ends)},
            )
        else:
            log.info("delivery log read", extra=extra)
        return delivered

    def _read(
        self,
        starts: dict[int, int],
        ends: dict[int, int],
        watermarks: dict[int, int],
        deadline: float,
        delivered: dict[int, set[int]],
    ) -> dict[int, int]:
        """Read each partition from its start to (not including) its end, adding the offsets
        listed to `delivered` and removing it from `ends` once done. Per partition, returns the
        log offset of the first record that listed any."""
        first: dict[int, int] = {}
        reader = Consumer(
            consumer_config(
                self._settings,
                f"{self._settings.sink_group_id}.log-reader",
                # Assigned at explicit offsets; one retention already deleted reads what is left.
                offset_reset="earliest",
            )
        )
        try:
            reader.assign([TopicPartition(self.topic, p, starts[p]) for p in ends])
            while ends and (left := deadline - time.monotonic()) > 0:
                # consume() waits its whole timeout unless 500 arrive: short rounds.
                for message in reader.consume(500, min(left, _READ_ROUND_SECONDS)):
                    partition = message.partition()
                    if message.error() is not None or partition not in ends:
                        continue
                    offset = message.offset()
                    if offset < ends[partition]:
                        listed = self._listed(message, watermarks[partition])
                        if listed:
                            delivered.setdefault(partition, set()).update(listed)
                            first.setdefault(partition, offset)
                    if offset + 1 >= ends[partition]:
                        del ends[partition]
        finally:
            reader.close()
        return first

    def _write_markers(self, partitions: list[int], deadline: float) -> dict[int, int]:
        """Write an empty record to each log partition; return the offsets Kafka gave them."""
        ends: dict[int, int] = {}
        value = orjson.dumps({"topic_id": self._topic_id, "offsets": []})

        def acknowledged(partition: int, error: KafkaError | None, message: Message) -> None:
            offset = _stored_at(error, message)
            if offset is None:
                log.warning("delivery log marker not acknowledged", extra={"error": str(error)})
                return
            ends[partition] = offset
            self._positions.acknowledged(partition, offset)

        for partition in partitions:
            self._producer.produce(
                self.topic,
                value,
                self._key(partition),
                partition,
                on_delivery=partial(acknowledged, partition),
            )
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        return ends

    def _listed(self, message: Message, watermark: int) -> list[int]:
        """The offsets >= `watermark` a log record lists (none if it is not one of ours)."""
        try:
            value = orjson.loads(message.value() or b"")
            if value.get("topic_id") != self._topic_id:
                return []  # written for an interactions topic since deleted and recreated
            return [offset for offset in value["offsets"] if offset >= watermark]
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
            log.warning(
                "not a delivery log record, skipped",
                extra={
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "error": str(exc),
                },
            )
            return []

    def forget(self, partitions: Iterable[int]) -> None:
        self._positions.forget(partitions)


def _stored_at(error: KafkaError | None, message: Message) -> int | None:
    """The log offset Kafka stored a record at; None when it failed or the offset is unknown.

    Kafka can acknowledge a write without an offset (`Message.offset()` is None), e.g. when an
    idempotent producer retries, after a broker restart, a write the broker already had. The
    broker-failure test met it: the callback raised a TypeError, which stopped the sink, and
    confluent-kafka on Python 3.11 reported it as a SystemError that hid the cause."""
    if error is not None:
        return None
    offset: int | None = message.offset()
    return offset
