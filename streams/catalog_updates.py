"""Users and items out of the raw stream: a record on the users (items) topic only on a change.

Per source partition, the latest fields of each user and item seen there (a user's records all
arrive on one partition: the raw topic is keyed by the user id; an item's, on any partition,
so each partition keeps its own view and a change may be written once per partition that sees
it). A record's mapped fields are merged into the held state (a field seen once stays until a
new value replaces it); only when the merge changes something is the whole new state written as
a `UserRecord` (`ItemRecord`), keyed by the id, to the compacted users (items) topic. So 1,000
identical updates of a user give one record, and a changed property one more.

Restart-safe: the state's durable copy is a Faust table's compacted changelog, written on the
source partition once Kafka acknowledged the batch's users and items records (`write_state`),
with keys `<partition>/<u|i>/<id>`: the newest value per key survives compaction, and Faust's
recovery reads a partition's records back (`load`) when a worker (re)starts or takes the
partition over. Written before the acknowledgement, a crash in between would mark a change as
sent that never was; written after, a crash costs at most one repeated record.

Memory: the mapped fields of every user and item of the partitions a worker holds.
"""

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec
from confluent_kafka import KafkaException

from schemas import MAX_TIMESTAMP_MS, ItemRecord, UserRecord, catalog_encoder
from schemas.catalog import FieldValue
from streams import metrics
from streams.catalog_reader import CatalogReader
from streams.producer import DeliveryFailed

log = logging.getLogger(__name__)

USERS, ITEMS = "users", "items"
_KIND = {USERS: "u", ITEMS: "i"}
_DATASET = {"u": USERS, "i": ITEMS}
_State = tuple[int, dict[str, FieldValue]]  # (updated_at_ms, fields): the changelog's value
# Held per id: the state and the raw values last read for it (None after a recovery), so a
# record repeating them is known unchanged without mapping anything.
_Held = tuple[int, dict[str, FieldValue], tuple[Any, ...] | None]
_encode_state = msgspec.json.encode
_decode_state = msgspec.json.Decoder(tuple[int, dict[str, str | int | float | bool]]).decode


def state_key(partition: int, kind: str, record_id: str) -> bytes:
    return f"{partition}/{_KIND[kind]}/{record_id}".encode()


class CatalogUpdates:
    """Called by the batch processor for every usable raw record; produces on changes only."""

    def __init__(
        self,
        reader: CatalogReader,
        output: Any,  # streams.processor.Output
        users_topic: str,
        items_topic: str,
        state_changelog: str,
    ) -> None:
        self._reader = reader
        self._output = output
        self._topics = {USERS: users_topic, ITEMS: items_topic}
        self._changelog = state_changelog
        self._state: dict[str, dict[int, dict[str, _Held]]] = {USERS: {}, ITEMS: {}}
        self._pending: dict[tuple[int, str, str], _State] = {}  # written after the batch
        self._out: Counter[str] = Counter()
        self._unchanged: Counter[str] = Counter()
        self._dropped: Counter[tuple[str, str]] = Counter()
        self._unreadable = 0

    def observe(self, partition: int, raw: bytes, time_ms: int) -> None:
        """Fold one record's users/items fields into the state; queue a record per change.

        Never raises for the record's sake (its interaction, if any, is already queued): a
        record whose shape cannot be read, or that makes this raise, is counted and skipped.
        Only Kafka's own refusal (DeliveryFailed) fails the batch."""
        reader = self._reader
        try:
            record = reader.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            self._unreadable += 1
            return
        try:
            when = min(max(time_ms, 0), MAX_TIMESTAMP_MS)
            # A record carrying none of the mapped values says nothing: no state, no mapping.
            user_id = reader.user_id(record)
            if user_id is not None:
                values = reader.user_values(record)
                if values.count(None) < len(values):
                    self._observe(USERS, partition, user_id, values, when)
            item_id, values = reader.item(record)
            if item_id is not None:
                if values.count(None) < len(values):
                    self._observe(ITEMS, partition, item_id, values, when)
        except DeliveryFailed:
            raise
        except Exception as exc:  # a bug: counted and logged by type, never with the data
            metrics.UNEXPECTED_ERRORS.labels(error="other").inc()
            log.warning("users/items update skipped: %s", type(exc).__name__)

    def _observe(
        self, kind: str, partition: int, record_id: str, values: tuple[Any, ...], when: int
    ) -> None:
        held = self._state[kind].get(partition)
        if held is None:
            held = self._state[kind][partition] = {}
        old = held.get(record_id)
        if old is not None and old[2] == values:  # the same raw values as last time
            self._unchanged[kind] += 1
            return
        fields, problems = self._reader.fields(kind, values)
        for problem in problems:
            self._dropped[(kind, problem)] += 1
        if old is None:
            if not fields:  # nothing mapped yet: remembered, so it is not mapped again
                held[record_id] = (0, {}, values)
                return
            merged = fields
        else:
            merged = {**old[1], **fields}
            if merged == old[1]:
                held[record_id] = (old[0], old[1], values)
                self._unchanged[kind] += 1
                return
            when = max(when, old[0])
        record: Any
        if kind == USERS:
            record = UserRecord(user_id=record_id, fields=merged, updated_at_ms=when)
        else:
            record = ItemRecord(item_id=record_id, fields=merged, updated_at_ms=when)
        try:
            self._output.produce(
                self._topics[kind], catalog_encoder.encode(record), record_id.encode()
            )
        except KafkaException as exc:
            raise DeliveryFailed(f"{kind} record refused by librdkafka: {exc}") from exc
        held[record_id] = (when, merged, values)
        self._pending[(partition, kind, record_id)] = (when, merged)
        self._out[kind] += 1

    def finish_batch(self) -> None:
        """Publish the batch's counts (once a batch: a counter increment per record costs)."""
        for kind, n in self._out.items():
            metrics.CATALOG_RECORDS_OUT.labels(dataset=kind).inc(n)
        for kind, n in self._unchanged.items():
            metrics.CATALOG_UNCHANGED.labels(dataset=kind).inc(n)
        for (kind, reason), n in self._dropped.items():  # the mapping's own reason names
            metrics.CATALOG_FIELDS_DROPPED.labels(dataset=kind, reason=reason).inc(n)
        if self._unreadable:
            metrics.CATALOG_FIELDS_DROPPED.labels(dataset="any", reason="unreadable").inc(
                self._unreadable
            )
        self._out.clear()
        self._unchanged.clear()
        self._dropped.clear()
        self._unreadable = 0

    def write_state(self) -> None:
        """Queue the changelog records of the batch's changes, on their source partitions.

        Call only once Kafka acknowledged the batch's users and items records."""
        produce, topic = self._output.produce, self._changelog
        for (partition, kind, record_id), state in self._pending.items():
            key = state_key(partition, kind, record_id)
            try:
                produce(topic, _encode_state(state), key, partition)
            except KafkaException as exc:
                raise DeliveryFailed(f"state record refused by librdkafka: {exc}") from exc
        self._pending.clear()

    def load(self, records: Iterable[tuple[bytes, bytes]]) -> int:
        """Fold recovered changelog records into the state; returns how many were read.

        A record this cannot read is skipped (it costs one repeated record, nothing more)."""
        loaded = 0
        for key, value in records:
            try:
                head, kind, record_id = key.decode().split("/", 2)
                when, fields = _decode_state(value)
                held = self._state[_DATASET[kind]].setdefault(int(head), {})
                held[record_id] = (when, fields, None)
            except (ValueError, KeyError, msgspec.DecodeError):
                continue
            loaded += 1
        return loaded

    def drop(self, partitions: Iterable[int]) -> int:
        """Forget the state of partitions this worker no longer holds; returns how many ids."""
        dropped = 0
        for kind in self._state.values():
            for partition in partitions:
                dropped += len(kind.pop(partition, {}))
        return dropped

    def partitions(self) -> set[int]:
        return {p for kind in self._state.values() for p in kind}

    def held(self, kind: str) -> int:
        return sum(len(ids) for ids in self._state[kind].values())
