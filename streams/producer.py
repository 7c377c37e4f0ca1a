"""Produce a batch's records with librdkafka and await their acknowledgement as one.

Faust's own producer (aiokafka) sends one message per coroutine step; that per-event `send` is the
slowest path measured (bench/README.md's anchors). librdkafka only queues a record, and
`delivered()` waits for the whole batch in a worker thread, so the event loop is never blocked and
the stage acknowledges offsets only after this returns. Several batches may be in flight
(streams/consumer.py); their flushes take turns.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer


class DeliveryFailed(RuntimeError):
    """Kafka did not acknowledge records after librdkafka's own retries: fatal for the batch."""


class BatchProducer:
    def __init__(self, config: dict[str, Any], flush_timeout: float = 60.0) -> None:
        # Delivery reports for failed records only: one Python callback per record, served in
        # the flushing thread, cost the stage more than producing the record (bench/README.md,
        # "Streams"); `flush` waits for every record either way.
        self._producer = Producer(
            {**config, "delivery.report.only.error": True, "on_delivery": self._on_delivery}
        )
        self._flush_timeout = flush_timeout
        self._errors: list[str] = []
        # One flush at a time: delivery reports are served only by the flush under way, so a
        # failed record is reported by the flush of its batch or of an earlier batch (which
        # the consumer's acknowledgement order makes fail its successors), never lost between
        # two threads flushing at once.
        self._flushing = asyncio.Lock()

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = list(headers)
        try:
            self._producer.produce(topic, value, key, **kwargs)
        except BufferError as exc:
            # Waiting here for room would block the event loop. streams/app.py sizes the queue
            # for every batch in flight and one more (each is awaited with `delivered()`), so
            # this is a misconfiguration: fail the batch, unacked.
            raise DeliveryFailed(f"librdkafka's queue is full ({exc}): batch not sent") from exc

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")

    async def delivered(self) -> None:
        """Return once Kafka acknowledged every record produced so far; raise if any failed."""
        async with self._flushing:
            remaining = await asyncio.to_thread(self._producer.flush, self._flush_timeout)
            errors, self._errors = self._errors, []
        if remaining:
            errors.append(f"{remaining} records not acknowledged in {self._flush_timeout}s")
        if errors:
            raise DeliveryFailed("; ".join(errors[:5]))

    def close(self) -> None:
        self._producer.flush(self._flush_timeout)
