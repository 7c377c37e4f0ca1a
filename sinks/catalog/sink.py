"""The users (items) sink's poll loop: records in, coalesced, sent, dead-lettered, committed.

One thread polls the topic, holds each id's newest record for the window (coalescer.py), sends
due ones as calls within the quota (dispatch.py), dead-letters the ones Personalize refuses to
the dead-letter topic with the reason in a header, and commits per partition only below the
lowest offset not done (offsets.py): a crash re-reads, and re-sends, what was not committed;
a record is whole state, so sending it again is harmless.

- A value that is not a record (schemas/catalog.py says why), or a record botocore's model
  forbids in any call (properties too long), is dead-lettered at once: `invalid_record`.
- A tombstone (null value: compaction's delete marker) is skipped: Personalize has no
  real-time delete for users or items (a data deletion job does that).
- Above `catalog_sink_max_pending_records` consumed and not done, the partitions are paused
  (the consumer keeps polling, so stays in the group) and resumed below half.
- Stopping (SIGTERM) commits what is done and leaves the rest for the next start to re-read.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from core.consumer_lag import LagReporter
from core.kafka import consumer_config, produce_when_room, producer_config
from core.record_size import fit_dead_letter
from schemas.catalog import InvalidCatalogRecord
from sinks.catalog import metrics
from sinks.catalog.client import build_client, check_configured
from sinks.catalog.coalescer import Coalescer, Entry
from sinks.catalog.dispatch import Dispatcher, Finished
from sinks.catalog.kinds import Kind, record_id
from sinks.catalog.offsets import Watermarks
from sinks.catalog.settings import CatalogSinkSettings

log = logging.getLogger(__name__)


class CatalogSink:
    def __init__(
        self,
        settings: CatalogSinkSettings,
        kind: Kind,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None:
            check_configured(settings, kind)
            client = build_client(settings)
        self._settings, self._kind, self._clock = settings, kind, clock
        self._coalescer = Coalescer(settings.catalog_sink_window_seconds, clock)
        self._dispatcher = Dispatcher(kind, client, settings, self._coalescer, clock)
        self._offsets = Watermarks()
        self._consumer = Consumer(
            consumer_config(
                settings,
                kind.group_id,
                # A new group sends every user's (item's) latest state the compacted topic keeps.
                offset_reset="earliest",
            )
        )
        self._producer = Producer(producer_config(settings))  # dead letters
        self._epochs: dict[int, int] = {}
        self._assigned: set[int] = set()
        self._paused = False
        self._had_assignment = False
        self._next_commit = 0.0
        self._metric = {
            outcome: metrics.RECORDS.labels(kind=kind.name, outcome=outcome)
            for outcome in ("delivered", "coalesced", "dead_lettered", "tombstone")
        }
        # Every series the dashboards and alerts read exists (at 0) before the first call.
        metrics.DELIVERY_STOPPED.labels(kind=kind.name).set(0)
        metrics.BACKLOG_AGE.labels(kind=kind.name).set(0)
        metrics.PENDING.labels(kind=kind.name).set(0)
        metrics.CALLS.labels(kind=kind.name, outcome="success", error_code="")
        metrics.CALLS.labels(kind=kind.name, outcome="unexpected", error_code="other")
        metrics.RECORDS_PER_CALL.labels(kind=kind.name)
        metrics.CALL_DURATION.labels(kind=kind.name)

    @property
    def ready(self) -> bool:
        """Ready once it holds partitions, and as long as no fatal error stops delivery."""
        return self._had_assignment and self._dispatcher.stopped_by is None

    def run(self, stop: threading.Event) -> None:
        try:
            self._consumer.subscribe(
                [self._kind.topic], on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            while not stop.is_set():
                wakeup = self._dispatcher.wakeup()
                timeout = self._settings.catalog_sink_poll_timeout_seconds
                if wakeup is not None:
                    timeout = min(timeout, max(wakeup, 0.001))
                for message in self._consumer.consume(500, timeout):
                    self._accept(message)
                self._step()
            self._producer.flush(10)  # dead letters acknowledged count as done
            self._commit()
        finally:
            self._consumer.close()
            self._producer.flush(10)

    def _step(self) -> None:
        for finished in self._dispatcher.step():
            self._settle(finished)
        self._producer.poll(0)
        self._apply_pressure()
        if self._clock() >= self._next_commit:
            self._next_commit = self._clock() + self._settings.catalog_sink_commit_interval_seconds
            self._commit()

    def _accept(self, message: Message) -> None:
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(message.error())})
            return
        partition, offset, value = message.partition(), message.offset(), message.value()
        self._offsets.add(partition, offset)
        if value is None:
            self._metric["tombstone"].inc()
            self._offsets.done(partition, offset)
            return
        try:
            record = self._kind.decode(value)
        except InvalidCatalogRecord as exc:
            self._dead_letter(partition, [offset], value, f"invalid_record: {exc}")
            return
        problems = self._kind.problems(record)
        if problems:
            self._dead_letter(partition, [offset], value, f"invalid_record: {'; '.join(problems)}")
            return
        epoch = self._epochs.get(partition, 0)
        key = record_id(record)
        if self._coalescer.add(partition, offset, key, record, value, epoch):
            self._metric["coalesced"].inc()

    def _settle(self, finished: Finished) -> None:
        entry: Entry = finished.entry
        self._coalescer.finished(entry)
        if finished.reason is not None:
            self._dead_letter(entry.partition, entry.offsets, entry.value, finished.reason)
            return
        self._metric["delivered"].inc()
        if self._epochs.get(entry.partition) == entry.epoch:
            for offset in entry.offsets:
                self._offsets.done(entry.partition, offset)

    def _dead_letter(self, partition: int, offsets: list[int], value: bytes, reason: str) -> None:
        """To the dead-letter topic; its offsets are done once Kafka acknowledged it."""
        epoch = self._epochs.get(partition, 0)

        def acknowledged(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                log.warning("dead letter not acknowledged, retrying", extra={"error": str(error)})
                self._dead_letter(partition, offsets, value, reason)
                return
            self._metric["dead_lettered"].inc()
            if self._epochs.get(partition) == epoch:
                for offset in offsets:
                    self._offsets.done(partition, offset)

        headers = [("dead_letter_reason", reason[:1000].encode()), ("stage", self._stage)]
        _, fitted, fitted_headers = fit_dead_letter(
            None, value, headers, self._settings.kafka_message_max_bytes
        )
        produce_when_room(
            self._producer,
            self._kind.dead_letter_topic,
            fitted,
            headers=fitted_headers,
            on_delivery=acknowledged,
        )

    @property
    def _stage(self) -> bytes:
        return f"{self._kind.name}-sink".encode()

    def _apply_pressure(self) -> None:
        pending = self._offsets.pending()
        metrics.PENDING.labels(kind=self._kind.name).set(pending)
        limit = self._settings.catalog_sink_max_pending_records
        wanted = pending >= limit or (self._paused and pending > limit // 2)
        if wanted != self._paused and self._assigned:
            partitions = [TopicPartition(self._kind.topic, p) for p in self._assigned]
            (self._consumer.pause if wanted else self._consumer.resume)(partitions)
            self._paused = wanted

    def _commit(self, partitions: set[int] | None = None) -> None:
        moved = self._offsets.committable()
        if partitions is not None:
            moved = {p: o for p, o in moved.items() if p in partitions}
        if not moved:
            return
        offsets = [TopicPartition(self._kind.topic, p, o) for p, o in moved.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except Exception as exc:  # e.g. a rebalance in progress: the next turn commits again
            log.warning("commit failed", extra={"error": str(exc)})
            return
        self._offsets.committed(moved)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._epochs[tp.partition] = self._epochs.get(tp.partition, 0) + 1
            self._assigned.add(tp.partition)
        self._had_assignment = True
        self._paused = False
        log.info("partitions assigned", extra={"partitions": [tp.partition for tp in partitions]})

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done; the rest is the next owner's to read and send again."""
        revoked = {tp.partition for tp in partitions}
        self._producer.flush(10)
        self._commit(revoked)
        self._offsets.forget(list(revoked))
        self._coalescer.forget(revoked)
        self._dispatcher.forget(revoked)
        for partition in revoked:
            self._assigned.discard(partition)
            self._epochs[partition] = self._epochs.get(partition, 0) + 1


def run(settings: CatalogSinkSettings, kind: Kind) -> None:
    import signal

    from core.status_server import start_status_server

    stop = threading.Event()
    sink = CatalogSink(settings, kind)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    lag = LagReporter(settings, kind.group_id, kind.topic).start()
    server = start_status_server(
        settings.catalog_sink_status_host, kind.status_port, lambda: sink.ready
    )
    log.info("catalog sink started", extra={"kind": kind.name, "status_port": kind.status_port})
    try:
        sink.run(stop)
    finally:
        lag.stop()
        server.shutdown()
