"""The sink's poll loop: open (assign), put (accept), flush (dispatch), commit, close (revoke).

Kafka Connect's SinkTask contract, with offsets following delivery: one thread polls Kafka,
groups interactions (batcher.py), hands full or lingered groups to the dispatcher (at the
rate limit, with SINK_BATCHING=quota, only the lingered groups that can go this turn)
(dispatch.py: a bounded pool calling PutEvents, retries, poison halving, fatal stops), and
commits per partition only up to the lowest offset not yet delivered or dead-lettered
(offsets.py). The dispatcher's finished calls come back to this thread (`collect`), so the
batcher and the offsets are only touched here.

- Back-pressure: above `sink_max_pending_events` held in memory the partitions are paused
  (the consumer keeps polling, so it stays in the group) and resumed below half of it; a
  partition is also paused while `sink_max_uncommitted_events` of its records sit above its
  committed offset.
- Failed calls are never dropped (dispatch.py): retried with backoff, halved down to the
  events Personalize refuses (which this loop dead-letters), or held while a fatal error
  stops delivery; the sink is then not ready and everything stays uncommitted.
- Duplicates after a crash: a restarted sink re-reads every record above the committed
  offsets, at most `sink_max_uncommitted_events` (+ one consume batch) per partition: past it
  the partition is paused and the group holding its offset is sent at once. It re-sends only
  the calls in flight at the crash: the source offsets of every accepted call go to the
  delivery log (delivery_log.py), which the next owner of a partition reads on assignment to
  skip them. A call is in flight from its submission to the pool until Kafka acknowledged its
  delivery-log record, and at most 4 x `sink_threads` calls are in flight (dispatch.py), so a
  crash re-sends at most 4 x `sink_threads` x 10 events (more only if the log cannot be
  written or read within `sink_delivery_log_read_timeout_seconds`; a call AWS accepted but
  whose answer was lost is also sent twice).
"""

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from core.consumer_lag import LagReporter
from core.kafka import consumer_config, produce_when_room, producer_config
from core.record_size import fit_dead_letter
from sinks.personalize import metrics
from sinks.personalize.batcher import Batcher, Call, Pending
from sinks.personalize.client import build_client, check_configured
from sinks.personalize.delivery import Delivery, Verdict
from sinks.personalize.delivery_log import DeliveryLog
from sinks.personalize.dispatch import Dispatcher
from sinks.personalize.intake import Refused, take
from sinks.personalize.offsets import OffsetTracker
from sinks.personalize.rate_limit import RateLimiter
from sinks.personalize.settings import SinkSettings

log = logging.getLogger(__name__)

_SMALLEST_DEAD_LETTER_BYTES = 1024


class PersonalizeSink:
    def __init__(self, settings: SinkSettings, clock: Callable[[], float] = time.monotonic):
        check_configured(settings)
        self._settings = settings
        self._topic = settings.interactions_topic
        self._clock = clock
        limiter = RateLimiter(settings.sink_rate_limit_calls_per_second)
        client = None if settings.sink_dry_run else build_client(settings, limiter)
        delivery = Delivery(client, settings.aws_personalize_tracking_id or "")
        self._dispatcher = Dispatcher(settings, delivery.send, limiter, self._current, clock)
        self._consumer = Consumer(
            consumer_config(
                settings,
                settings.sink_group_id,
                # A group without a valid offset (new, expired, or behind retention) delivers
                # everything still kept rather than skip it: Personalize drops repeated eventIds.
                offset_reset="earliest",
                on_commit=self._on_commit,
            )
        )
        self._producer = Producer(producer_config(settings))  # dead letters, delivery log
        self._log = DeliveryLog(settings, self._producer, write=not settings.sink_dry_run)
        self._already: dict[int, set[int]] = {}  # per partition, offsets the log says delivered
        self._already_delivered = metrics.EVENTS.labels(outcome="already_delivered")
        self._batcher = Batcher(settings.sink_linger_seconds, clock)
        self._quota_aware = settings.sink_batching == "quota"
        self._offsets = OffsetTracker()
        self._epochs: dict[int, int] = {}  # partition -> its current assignment's number
        self._assigned: set[int] = set()
        self._paused: set[int] = set()  # partitions paused by back-pressure
        self._memory_full = False
        self._had_assignment = False
        self._closing = False
        self._next_commit = 0.0

    @property
    def ready(self) -> bool:
        """Ready once it holds partitions, and as long as delivery is not stopped."""
        return self._had_assignment and self._dispatcher.stopped_by is None

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        try:
            self._log.prepare()
            self._consumer.subscribe(
                [self._topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            while not stop.is_set():
                messages = self._consumer.consume(
                    self._settings.sink_poll_max_messages, self._poll_timeout()
                )
                for message in messages:
                    self._accept(message)
                self._step()
            self._dispatcher.submit_all(self._batcher.drain())
            self._finish_outstanding(None)
            self._producer.flush(10)  # dead letters acknowledged count as done
            self._producer.poll(0)
            self._commit(synchronous=True)
        finally:
            self._closing = True  # close() revokes: commit what is done, send nothing more
            self._consumer.close()
            self._dispatcher.close()
            self._producer.flush(10)

    def _poll_timeout(self) -> float:
        """One turn while calls are in flight: their results (and the next sends) wait for it."""
        if (
            self._dispatcher.busy
            or self._log.unacknowledged_calls
            or (self._quota_aware and self._batcher.overdue() and self._dispatcher.room())
        ):
            return min(self._dispatcher.turn, self._settings.sink_poll_timeout_seconds)
        return self._settings.sink_poll_timeout_seconds

    def _step(self) -> None:
        """One turn after a poll: results in, due groups out, back-pressure, commit."""
        self._collect()
        self._producer.poll(0)  # dead-letter acknowledgements
        self._flush()
        self._apply_pressure()
        self._commit(synchronous=False)

    # -- put: records in ---------------------------------------------------------------------

    def _accept(self, message: Message) -> None:
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(message.error())})
            return
        partition, offset = message.partition(), message.offset()
        value = message.value() or b""
        self._offsets.add(partition, offset)
        if self._already:  # only after an assignment found records delivered above its offset
            delivered = self._already.get(partition)
            if delivered is not None and offset in delivered:
                delivered.discard(offset)
                if not delivered:
                    del self._already[partition]
                self._offsets.done(partition, offset)
                self._already_delivered.inc()
                return
        item = Pending(partition, offset, {}, value, self._epochs.get(partition, 0))
        taken = take(value)
        if isinstance(taken, Refused):
            self._dead_letter(item, taken.reason)
            return
        item.event = taken.event
        full = self._batcher.add(taken.user_id, taken.session_id, item)
        if full is not None:
            self._dispatcher.submit(full)

    # -- flush: calls out (dispatch.py), results back ------------------------------------------

    def _flush(self) -> None:
        held = self._log.unacknowledged_calls
        self._dispatcher.take_lingered(self._batcher, held)
        self._dispatcher.dispatch(held=held)

    def _collect(self, wait: float = 0.0) -> None:
        """Settle every call that came back (waiting up to `wait` for the first one), then
        write what was delivered to the delivery log: one record per partition per turn."""
        for outcome in self._dispatcher.collect(wait):
            call = outcome.call
            if outcome.verdict is Verdict.DELIVERED:
                for item in call.items:
                    self._offsets.done(item.partition, item.offset)
                self._log.delivered(call)
            else:  # an event Personalize refuses, alone in its call
                self._dead_letter(call.items[0], f"{outcome.error_code}: {outcome.message}")
        self._log.write()

    def _current(self, call: Call) -> bool:
        """Still this assignment's: else revoked meanwhile, the new owner re-reads it."""
        return self._epochs.get(call.partition) == call.items[0].epoch

    def _dead_letter(self, item: Pending, reason: str, value: bytes | None = None) -> None:
        """Produce to the dead-letter topic; the record is done once Kafka acknowledged it.

        Cut down to fit KAFKA_MESSAGE_MAX_BYTES; one the broker still finds too large (its
        limit is lower than the setting) is sent again as a 1 KB sample, never dropped."""

        def acknowledged(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                log.warning("dead letter not acknowledged, retrying", extra={"error": str(error)})
                smaller = None
                if error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    smaller = (item.value or b"")[:_SMALLEST_DEAD_LETTER_BYTES]
                self._dead_letter(item, reason, smaller)
                return
            metrics.EVENTS.labels(outcome="dead_lettered").inc()
            if self._epochs.get(item.partition) == item.epoch:
                self._offsets.done(item.partition, item.offset)

        headers = [("dead_letter_reason", reason[:1000].encode()), ("stage", b"sink")]
        original = item.value if value is None else value
        _, fitted, fitted_headers = fit_dead_letter(
            None, original, headers, self._settings.kafka_message_max_bytes
        )
        if value is not None:
            fitted_headers.append(("truncated_from_bytes", str(len(item.value or b"")).encode()))
        produce_when_room(
            self._producer,
            self._settings.interactions_dead_letter_topic,
            fitted,
            headers=fitted_headers,
            on_delivery=acknowledged,
        )

    # -- memory and duplicates bounds ----------------------------------------------------------

    def _apply_pressure(self) -> None:
        """Pause what must wait: every partition while memory is full, and a partition whose
        records above its committed offset reach `sink_max_uncommitted_events` (what a crash
        would re-read); resume below half. The group holding a wide partition back goes now."""
        pending = self._offsets.pending()
        metrics.PENDING.set(pending)
        limit = self._settings.sink_max_pending_events
        if pending >= limit:
            self._memory_full = True
        elif pending <= limit // 2:
            self._memory_full = False
        metrics.UNCOMMITTED.set(
            sum(self._offsets.done_above_watermark().values())
            + self._offsets.done_below_watermark()
        )
        bound = self._settings.sink_max_uncommitted_events
        wanted = set(self._assigned) if self._memory_full else set()
        for partition, span in self._offsets.spans().items():
            if span >= bound or (partition in self._paused and span > bound // 2):
                wanted.add(partition)
            if span >= bound and self._batcher.oldest_offset(partition) == self._offsets.watermark(
                partition
            ):
                call = self._batcher.pop_oldest(partition)
                if call is not None:
                    self._dispatcher.submit(call, first=True)  # next out: it unblocks the commit
        wanted &= self._assigned
        if wanted != self._paused:
            if pause := wanted - self._paused:
                self._consumer.pause([TopicPartition(self._topic, p) for p in pause])
            if resume := self._paused - wanted:
                self._consumer.resume([TopicPartition(self._topic, p) for p in resume])
            self._paused = wanted
            metrics.PAUSED.set(len(wanted))

    # -- commit --------------------------------------------------------------------------------

    def _commit(self, synchronous: bool, partitions: list[int] | None = None) -> None:
        """Commit the watermarks that moved: every `sink_commit_interval_seconds`, at once when
        the delivered-but-uncommitted records exceed the bound, and on revocation/shutdown."""
        now = self._clock()
        if (
            not synchronous
            and now < self._next_commit
            and self._offsets.done_below_watermark() < self._settings.sink_max_uncommitted_events
        ):
            return
        self._next_commit = now + self._settings.sink_commit_interval_seconds
        moved = self._offsets.committable()
        if partitions is not None:
            moved = {p: o for p, o in moved.items() if p in partitions}
        if not moved:
            return
        offsets = [TopicPartition(self._topic, p, o) for p, o in moved.items()]
        offsets += self._log.commit_offsets(moved)  # one request: where a restart reads the log
        try:
            self._consumer.commit(offsets=offsets, asynchronous=not synchronous)
        except Exception as exc:  # e.g. a rebalance in progress: the next turn commits again
            log.warning("commit failed", extra={"error": str(exc)})
            return
        self._offsets.committed(moved)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """An asynchronous commit's answer (served by consume()): a refused one is redone."""
        failed = [tp.partition for tp in partitions if tp.error is not None]
        if error is not None or failed:
            log.warning(
                "offset commit failed; committing again",
                extra={
                    "error": str(error),
                    "partitions": failed or [tp.partition for tp in partitions],
                },
            )
            self._offsets.uncommit(failed or [tp.partition for tp in partitions])

    def _finish_outstanding(self, partitions: list[int] | None) -> None:
        """Deliver what is held (for `partitions`, or all) until done, stopped or timed out."""
        deadline = self._clock() + self._settings.sink_revoke_timeout_seconds
        while self._offsets.pending(partitions) > 0 and self._dispatcher.stopped_by is None:
            if self._clock() > deadline:
                log.warning(
                    "gave up waiting for deliveries; the records stay uncommitted",
                    extra={"pending": self._offsets.pending(partitions)},
                )
                return
            self._flush()
            self._producer.poll(0)
            self._collect(wait=0.05)

    # -- rebalances ----------------------------------------------------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._epochs[tp.partition] = self._epochs.get(tp.partition, 0) + 1
            self._assigned.add(tp.partition)
        self._had_assignment = True
        self._paused = set()  # a new assignment is not paused: back-pressure decides again
        metrics.PAUSED.set(0)
        numbers = [tp.partition for tp in partitions]
        asked = [TopicPartition(self._topic, p) for p in numbers]
        asked += [TopicPartition(self._log.topic, p) for p in numbers]
        try:
            committed = self._consumer.committed(asked, 10)
        except Exception as exc:
            log.warning(
                "committed offsets not read: what was delivered above them is re-sent",
                extra={"error": str(exc)},
            )
            return
        # Where the group resumes (operators see what a restart re-reads) and reads the log.
        resume = {tp.partition: tp.offset for tp in committed if tp.topic == self._topic}
        log.info(
            "partitions assigned",
            extra={"committed_offsets": {str(p): o for p, o in resume.items()}},
        )
        starts = {tp.partition: tp.offset for tp in committed if tp.topic == self._log.topic}
        watermarks = {p: max(o, 0) for p, o in resume.items()}  # none committed: from the start
        self._already.update(self._log.restore(watermarks, starts))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [tp.partition for tp in partitions]
        if not self._closing:
            self._dispatcher.submit_all(self._batcher.drain(revoked))
            self._finish_outstanding(revoked)
        # Delivery-log records acknowledged: the log offsets committed below are exact.
        self._producer.flush(self._settings.sink_revoke_timeout_seconds)
        self._commit(synchronous=True, partitions=revoked)
        self._forget(revoked)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = [tp.partition for tp in partitions]
        self._batcher.drain(lost)
        self._forget(lost)

    def _forget(self, partitions: list[int]) -> None:
        gone = set(partitions)
        self._offsets.forget(partitions)
        self._log.forget(partitions)
        self._paused -= gone
        for partition in partitions:
            self._assigned.discard(partition)
            self._epochs[partition] = self._epochs.get(partition, 0) + 1
            self._already.pop(partition, None)
        self._dispatcher.forget(gone)


def run(settings: SinkSettings) -> None:
    import signal

    from core.status_server import start_status_server

    stop = threading.Event()
    sink = PersonalizeSink(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    lag = LagReporter(settings, settings.sink_group_id, settings.interactions_topic).start()
    server = start_status_server(
        settings.sink_status_host, settings.sink_status_port, lambda: sink.ready
    )
    log.info(
        "sink started",
        extra={"status_port": settings.sink_status_port, "dry_run": settings.sink_dry_run},
    )
    try:
        sink.run(stop)
    finally:
        lag.stop()
        server.shutdown()
