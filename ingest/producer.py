"""An asyncio face on confluent-kafka's Producer: await until Kafka acknowledged a whole batch.

librdkafka calls delivery callbacks from `poll()`; a daemon thread polls, and each batch wakes
its waiting request once, when its last message is acknowledged (or the first one fails).
A fatal producer error (the idempotent producer's state cannot be recovered, e.g. the broker
lost it) fails what was queued and replaces the producer, so the sender's retry can succeed.
"""

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger(__name__)

Record = tuple[str, bytes | None, Any, list[tuple[str, bytes]]]  # topic, key, value, headers


class DeliveryError(RuntimeError):
    """Kafka did not take a message; nothing can be promised to the sender."""


class _Batch:
    __slots__ = ("error", "future", "loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.pending = size
        self.error: KafkaError | None = None

    def on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        # Runs in the polling thread; only it touches `pending`.
        if error is not None:
            if self.error is None:
                self.error = error
                self._wake()
            return
        self.pending -= 1
        if self.pending == 0 and self.error is None:
            self._wake()

    def _wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._finish)
        except RuntimeError:
            pass  # the loop is closed: the request that waited (and answered 503) is long gone

    def _finish(self) -> None:
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(DeliveryError(str(self.error)))
        else:
            self.future.set_result(None)

    def expire(self) -> None:
        if not self.future.done():
            self.future.set_exception(TimeoutError("Kafka did not acknowledge in time"))


class KafkaWriter:
    """Produce batches of records and await their acknowledgement."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**config, "error_cb": self._on_error}
        self._producer = Producer(self._config)
        self._fatal: KafkaError | None = None
        self._running = True
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _on_error(self, error: KafkaError) -> None:
        # Called from poll(); transport errors are retried by librdkafka itself.
        if error.fatal():
            self._fatal = error

    def _poll(self) -> None:
        while self._running:
            try:
                self._producer.poll(0.1)
            except KafkaException as exc:  # poll() raises the fatal error once it is set
                error = exc.args[0]
                if error.fatal():
                    self._fatal = error
                else:
                    log.warning("producer poll failed", extra={"error": str(error)})
            if self._fatal is not None:
                self._replace_producer()

    def _replace_producer(self) -> None:
        log.error("fatal producer error; replacing the producer", extra={"error": str(self._fatal)})
        old, self._producer = self._producer, Producer(self._config)
        self._fatal = None
        try:
            old.purge()
            old.poll(0)  # delivery callbacks of purged messages fail their batches now
        except KafkaException:
            pass  # the old producer's fatal error again: its batches time out into 503s

    async def write(self, records: Sequence[Record], within: float) -> None:
        """Return once Kafka acknowledged every record.

        Raises DeliveryError if one failed, TimeoutError if not all were acknowledged within
        `within` seconds (a plain timer: cheaper per request than `asyncio.timeout`).
        """
        if not records:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        batch = _Batch(loop, len(records))
        on_delivery = batch.on_delivery
        done = 0  # records queued so far
        while done < len(records):
            produce = self._producer.produce  # the poller may have replaced the producer
            try:
                # One tight loop for the common case; the counter says where to resume.
                for topic, key, value, headers in records[done:] if done else records:
                    produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                    done += 1
            except BufferError:
                # The local queue is full: let the poller drain acks, without blocking.
                if loop.time() > deadline:
                    raise TimeoutError("producer queue full") from None
                await asyncio.sleep(0.005)
            except KafkaException as exc:
                raise DeliveryError(str(exc)) from None
        timer = loop.call_at(deadline, batch.expire)
        try:
            await batch.future
        finally:
            timer.cancel()

    def broker_reachable(self, timeout: float) -> bool:
        """Blocking metadata round trip; call it from a thread."""
        try:
            self._producer.list_topics(timeout=timeout)
            return True
        except Exception:
            return False

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is queued, stop polling; returns how many messages were left undelivered."""
        left = self._producer.flush(timeout)
        self._running = False
        self._poller.join(timeout=1.0)
        return int(left)
