"""The history sink: a second consumer group writing interactions as bulk-import CSV files.

Offsets follow storage: a partition's offset is committed (synchronously) only after the file
holding its records was stored, so exactly the offsets written are committed. On revocation and
shutdown the open files are stored and committed first.
"""

import logging
import threading
import time

from confluent_kafka import Consumer, Message, TopicPartition

from core.consumer_lag import LagReporter
from core.kafka import consumer_config
from schemas import InvalidInteraction, decode_interaction
from sinks.history import metrics
from sinks.history.csv_rows import row
from sinks.history.files import FinishedFile, HistoryFiles
from sinks.history.settings import HistorySettings
from sinks.history.store import Store, open_store

log = logging.getLogger(__name__)


class HistorySink:
    def __init__(self, settings: HistorySettings, store: Store | None = None) -> None:
        self._settings = settings
        self._store = store or open_store(settings)
        # A group without a valid offset writes everything still kept: the history is for
        # training, and a gap in it is worse than a file that overlaps an earlier one.
        self._consumer = Consumer(
            consumer_config(settings, settings.history_group_id, offset_reset="earliest")
        )
        self._files = HistoryFiles(
            settings.interactions_topic,
            settings.history_roll_bytes,
            settings.history_roll_seconds,
            time.monotonic,
        )
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self._consumer.subscribe(
            [self._settings.interactions_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )
        try:
            while not stop.is_set():
                for message in self._consumer.consume(500, 0.5):
                    self._add(message)
                self._store_and_commit(self._files.due())
            self._store_and_commit(self._files.drain())
        finally:
            self._consumer.close()

    def _add(self, message: Message) -> None:
        if message.error():
            log.warning("consume error", extra={"error": str(message.error())})
            return
        try:  # a tombstone (no value) is no interaction either
            line: bytes | None = row(decode_interaction(message.value() or b""))
        except InvalidInteraction:
            metrics.INVALID.inc()
            line = None
        full = self._files.add(message.partition(), message.offset(), line)
        if full is not None:
            self._store_and_commit([full])

    def _store_and_commit(self, files: list[FinishedFile]) -> None:
        for finished in files:
            if finished.rows:
                where = self._store.put(finished.name, finished.data)
                metrics.FILES.inc()
                metrics.ROWS.inc(finished.rows)
                metrics.BYTES.inc(len(finished.data))
                log.info("history file stored", extra={"where": where, "rows": finished.rows})
            self._consumer.commit(
                offsets=[
                    TopicPartition(finished.topic, finished.partition, finished.last_offset + 1)
                ],
                asynchronous=False,
            )

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.ready.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._store_and_commit(self._files.drain([p.partition for p in partitions]))


def run(settings: HistorySettings) -> None:
    import signal

    from core.status_server import start_status_server

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sink = HistorySink(settings)
    lag = LagReporter(settings, settings.history_group_id, settings.interactions_topic).start()
    server = start_status_server(
        settings.history_status_host, settings.history_status_port, sink.ready.is_set
    )
    try:
        sink.run(stop)
    finally:
        lag.stop()
        server.shutdown()
