"""Faust's Kafka consumer, handing the raw topic to the stage a fetched batch at a time.

Faust delivers each message through its conductor, an Event, a channel queue and the stream
iterator: more Python per event than the work itself, even with batched processing behind
`stream.noack_take` (bench/README.md, "Streams", measures it). This consumer keeps everything else
of Faust (group membership and its partition assignor, table recovery, commits of acknowledged
offsets, rebalances) and intercepts only the raw topic's records right after a fetch: `handler`
processes them as one batch, and they are acknowledged to Faust's offset tracking only after it
returns (so only after Kafka acknowledged their outputs). Records of other topics (the dedup table's
changelog during recovery) follow Faust's usual path.

Up to `max_batches_in_flight` batches are under way at once: while the oldest waits for Kafka's
acknowledgement, the next are fetched and processed. They are acknowledged in fetch order, a batch
never after one that failed, and in bulk (Faust's bookkeeping, without a Message object per
record).

Nothing is handled while a rebalance is under way, and what is not handled is put back (see
`_wait_next_records`).

A handover or a graceful stop re-emits nothing: both first let the batches in flight finish,
then commit what they acknowledged, and only then let Faust go on (see `on_partitions_revoked`
and `on_stop` for what Faust alone would lose).

Built on Faust internals of the pinned faust-streaming version (the list, checked at start-up,
is in streams/faust_internals.py); tests/unit/streams/test_consumer.py covers what it does with
a fetch, tests/integration/streams/test_app.py the rest, end to end.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from faust.types import TP
from faust.types import tuples as faust_tuples

# The lock Faust's own `ack` holds, where the installed release has one (acks from threads).
_ACK_LOCK = getattr(faust_tuples, "ack_lock", None) or contextlib.nullcontext()

BatchHandler = Callable[[Mapping[TP, Sequence[Any]]], Awaitable[None]]


class BatchingConsumer(Consumer):
    """Set `batch_topic` and `batch_handler` (class attributes, see `install`)."""

    batch_topic: str | None = None
    batch_handler: BatchHandler | None = None
    # How long a handover or a stop waits for the batches in flight. A batch waits only for
    # Kafka to acknowledge its outputs, which librdkafka bounds by its delivery timeout.
    finish_timeout: float = 30.0
    # Batches handled at once: while the oldest waits for Kafka's acknowledgement of its
    # outputs, the next are fetched and processed (the wait would otherwise leave the event
    # loop idle; bench/README.md, "Streams"). 1: one batch at a time.
    max_batches_in_flight: int = 3

    # The broker's longest wait for new records in a fetch (Faust's own is 1,500 ms). aiokafka
    # keeps one fetch in flight per broker, for the partitions whose records were consumed;
    # when it holds only partitions with nothing new (the assignor's leader topic, a quiet
    # partition) it waits the whole time, and partitions consumed meanwhile wait for it: the
    # stage stalled 1.5 s every ~3 s at 1,000 events/s (bench/README.md, end to end).
    fetch_max_wait_ms: int = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batches: deque[asyncio.Future[None]] = deque()  # in fetch order

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Finish and commit the batches in flight, then let Faust revoke.

        Faust's revocation first forgets what it recorded as acknowledged for the revoked
        partitions and only then waits for messages in flight and commits, so every offset
        acknowledged since its last periodic commit would be read again by the partitions'
        next owner, and every one of those events re-emitted. (Eager rebalancing revokes every
        partition, so this is every rebalance.)"""
        if not self.should_stop:  # else on_stop does it
            await self._commit_finished_batches()
        await super().on_partitions_revoked(revoked)

    async def on_stop(self) -> None:
        """Finish and commit the batches in flight before Faust's own stop, which does not
        wait for them: by then the fetcher task they were started from is cancelled."""
        await self._commit_finished_batches()
        await super().on_stop()

    async def _commit_finished_batches(self) -> None:
        if self._batches:
            await asyncio.wait(set(self._batches), timeout=self.finish_timeout)
        await self.maybe_wait_for_commit_to_finish()  # a periodic commit may be under way
        await self.force_commit()

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109
        records, active_partitions = await super()._wait_next_records(timeout)
        topic, handler = self.batch_topic, self.batch_handler
        if not records or topic is None or handler is None:
            return records, active_partitions
        mine = {tp: batch for tp, batch in records.items() if tp.topic == topic}
        if not mine:
            return records, active_partitions
        others = {tp: batch for tp, batch in records.items() if tp.topic != topic}
        if self.should_stop:
            return others, active_partitions  # nothing more is handled; read after the stop
        # Handled only while the flow runs and no rebalance is under way, and only for the
        # partitions Faust counts as active (a rebalance changes that set while a fetch is
        # under way). A rebalance counts until Faust has sought the partitions to their
        # committed offsets: it resumes fetching them a moment before (its own streams wait on
        # its flow control, which this consumer bypasses), so records fetched in between come
        # from the old position. Every record not handled is put back (its partition sought
        # to it): aiokafka is past it already, and Faust's seek to the committed offsets leaves
        # a partition that has none where it is, so a dropped record would be skipped (the
        # stall a SIGKILLed worker's never-committed partitions showed).
        active = {
            tp: batch
            for tp, batch in mine.items()
            if active_partitions is None or tp in active_partitions
        }
        if not self.flow_active or self.app.rebalancing:
            active = {}
        await self._put_back({tp: batch for tp, batch in mine.items() if tp not in active})
        if active:
            # Handled in a task of its own, which the cancellation of the fetcher task this
            # runs in (a stop) does not reach: a handover or a stop waits for it (above).
            previous = self._batches[-1] if self._batches else None
            batch = asyncio.ensure_future(self._handle(handler, active, previous))
            batch.add_done_callback(self._on_batch_done)
            self._batches.append(batch)
            await self._wait_for_room()
        return others, active_partitions

    async def _wait_for_room(self) -> None:
        """Return once fewer than `max_batches_in_flight` batches are under way; a failed batch
        raises here, in Faust's fetcher, which stops the worker as a failure did before."""
        batches = self._batches
        while batches and (batches[0].done() or len(batches) >= self.max_batches_in_flight):
            await asyncio.shield(batches[0])
            batches.popleft()

    def _on_batch_done(self, batch: asyncio.Future[None]) -> None:
        """A failed batch stops the worker at once, as Faust's crash of a failed fetcher
        would: with no later fetch, nothing else would raise it."""
        if not batch.cancelled() and batch.exception() is not None:
            self._crashing = asyncio.ensure_future(self.app.crash(batch.exception()))

    async def _put_back(self, records: Mapping[TP, Sequence[Any]]) -> None:
        """Seek each partition to its first record, in Faust's consumer thread.

        aiokafka runs there, on an event loop of its own: a seek from this loop (Faust's own
        `seek` makes one) wakes that loop's futures from the wrong thread, a race that asyncio's
        debug mode refuses (there Faust's fetcher crashed, and the worker lived on, stalled)."""
        offsets = {tp: batch[0].offset for tp, batch in records.items()}
        if offsets:
            await self._thread.call_thread(self._seek_in_consumer_thread, offsets)

    async def _seek_in_consumer_thread(self, offsets: Mapping[TP, int]) -> None:
        consumer = self._thread._ensure_consumer()
        for tp, offset in offsets.items():
            try:
                consumer.seek(tp, offset)
            except IllegalStateError:
                pass  # no longer assigned: its next owner reads it from the committed offset

    async def _handle(
        self,
        handler: BatchHandler,
        records: Mapping[TP, Sequence[Any]],
        previous: asyncio.Future[None] | None,
    ) -> None:
        generation = self.app.consumer_generation_id
        await handler(records)
        if previous is not None:
            # Acknowledged in fetch order, and never after a batch that failed: a commit never
            # passes offsets whose outputs were not acknowledged. (The fetcher raises the
            # failure, from the batch that failed; this one is read again, like it.)
            try:
                await previous
            except Exception:
                return
        # Acknowledge only if no rebalance happened meanwhile: after one, the partitions may be
        # another worker's, which reads them again from the committed offsets.
        if self.app.consumer_generation_id == generation:
            for tp, batch in records.items():
                first, last = batch[0].offset, batch[-1].offset
                if last - first + 1 == len(batch):  # no gaps: the usual fetch
                    self._acknowledge(tp, range(first, last + 1))
                else:
                    self._acknowledge(tp, [record.offset for record in batch])
                self._read_offset[tp] = last

    def _acknowledge(self, tp: TP, offsets: Sequence[int]) -> None:
        """Faust's `ack` for a whole fetch of one partition, without its per-record Message.

        The same bookkeeping (what Faust's commit reads: `_acked`, `_acked_index`, `_n_acked`)
        under the same lock, minus a Message object and the WeakSet of unacknowledged ones per
        record: the stage's batches are tracked, waited for and committed by this consumer
        (`_commit_finished_batches`), not by Faust's wait for unacknowledged messages."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        with _ACK_LOCK:
            committed = self._committed_offset[tp]
            if committed is not None and offsets and offsets[0] < committed:
                offsets = [offset for offset in offsets if offset >= committed]
            acked_index = self._acked_index[tp]
            new = offsets if acked_index.isdisjoint(offsets) else set(offsets) - acked_index
            acked_index.update(new)
            self._acked[tp].extend(new)  # in any order: Faust's commit sorts them
            self._n_acked += len(new)


class _ConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, with the batching consumer's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.consumer.fetch_max_wait_ms  # read by its start()
        return consumer


def install(
    app: Any,
    topic: str,
    handler: BatchHandler,
    max_batches_in_flight: int = BatchingConsumer.max_batches_in_flight,
) -> None:
    """Make `app` consume with a BatchingConsumer that hands `topic` to `handler`."""
    consumer_class = type(
        "StreamsConsumer",
        (BatchingConsumer,),
        {
            "batch_topic": topic,
            "batch_handler": staticmethod(handler),
            "max_batches_in_flight": max_batches_in_flight,
        },
    )
    app.transport.Consumer = consumer_class
