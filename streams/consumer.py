"""Faust's Kafka consumer, handing the raw topic to the stage a fetched batch at a time.

Faust delivers each message through its conductor, an Event, a channel queue and the stream
iterator: ~70 us of Python per event before any work (shared/reference/performance.md;
measured here: 8.9k events/s, ~110 us an event, with batched processing behind
`stream.noack_take`). This consumer
keeps everything else of Faust (group membership and its partition assignor, table recovery,
commits of acknowledged offsets, rebalances) and intercepts only the raw topic's records right
after a fetch: `handler` processes them as one batch, and they are acknowledged to Faust's offset
tracking only after it returns (so only after Kafka acknowledged their outputs); while it runs
they count as in flight, so a stop or a rebalance waits for them. Records of
other topics (the dedup table's changelog during recovery) follow Faust's usual path.

Built on Faust internals (`_wait_next_records`, `_to_message`, `ack`, `_unacked_messages`) of
the pinned faust-streaming version; tests/integration/test_streams.py covers it end to end.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP

BatchHandler = Callable[[Mapping[TP, Sequence[Any]]], Awaitable[None]]


class BatchingConsumer(Consumer):
    """Set `batch_topic` and `batch_handler` (class attributes, see `install`)."""

    batch_topic: str | None = None
    batch_handler: BatchHandler | None = None

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109
        records, active_partitions = await super()._wait_next_records(timeout)
        topic, handler = self.batch_topic, self.batch_handler
        if not records or topic is None or handler is None:
            return records, active_partitions
        mine = {tp: batch for tp, batch in records.items() if tp.topic == topic}
        if not mine:
            return records, active_partitions
        others = {tp: batch for tp, batch in records.items() if tp.topic != topic}
        if active_partitions is not None:
            mine = {tp: batch for tp, batch in mine.items() if tp in active_partitions}
        if mine and self.flow_active and not self.should_stop:
            # A stop cancels the fetcher task this runs in, and a stop or a revocation then
            # waits (Faust's wait_empty) for the messages it tracks to be acknowledged, and
            # commits them. So the batch is tracked, and handled in a task of its own that a
            # cancellation does not reach, so a graceful stop or handover finishes it. (Known
            # gap: a join plus a SIGTERM mid-flow still re-emitted hundreds of acknowledged
            # events, dedup off; they are dropped by the dedup memory within its window.)
            messages = {tp: [self._to_message(tp, r) for r in batch] for tp, batch in mine.items()}
            for batch_messages in messages.values():
                self._unacked_messages.update(batch_messages)
            await asyncio.shield(asyncio.ensure_future(self._handle(handler, mine, messages)))
        # Else (flow stopped for a rebalance): dropped unprocessed, and Faust seeks every
        # partition back to its committed offset before the flow resumes.
        return others, active_partitions

    async def _handle(
        self,
        handler: BatchHandler,
        records: Mapping[TP, Sequence[Any]],
        messages: Mapping[TP, list[Any]],
    ) -> None:
        generation = self.app.consumer_generation_id
        acknowledged = False
        try:
            await handler(records)
            # Acknowledge only if no rebalance happened meanwhile: after one, the partitions
            # may be another worker's, which reads them again from the committed offsets.
            if self.app.consumer_generation_id == generation:
                for tp, batch_messages in messages.items():
                    for message in batch_messages:
                        self.ack(message)
                    self._read_offset[tp] = batch_messages[-1].offset
                acknowledged = True
        finally:
            if not acknowledged:  # failed or stale: nobody waits for it; it is read again
                for batch_messages in messages.values():
                    self._unacked_messages.difference_update(batch_messages)


def install(app: Any, topic: str, handler: BatchHandler) -> None:
    """Make `app` consume with a BatchingConsumer that hands `topic` to `handler`."""
    consumer_class = type(
        "StreamsConsumer",
        (BatchingConsumer,),
        {"batch_topic": topic, "batch_handler": staticmethod(handler)},
    )
    app.transport.Consumer = consumer_class
