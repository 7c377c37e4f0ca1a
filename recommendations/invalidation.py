"""Drop a user's cached answers when a strong interaction of theirs passes through the pipeline.

Every replica keeps its own cache, so every replica must see every interaction: the consumer
assigns itself all partitions from their end (no group, no commits). An invalidation missed
while a replica was down costs at most one cache TTL of staleness.
"""

import logging
import threading
from collections.abc import Callable

import orjson
from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from core.kafka import LIBRDKAFKA_LOGGER
from recommendations.settings import RecommendationsSettings

log = logging.getLogger(__name__)
_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
}
_MAX_BACKOFF_SECONDS = 10.0


class InvalidationListener:
    def __init__(self, settings: RecommendationsSettings, invalidate: Callable[[str], None]):
        self._settings = settings
        self._invalidate = invalidate
        self._stop = threading.Event()
        self.assigned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cache-invalidation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        """Listen until stopped. A failure (Kafka unreachable, credentials refused, the topic
        not created yet) is logged and tried again, the listener unassigned meanwhile (so the
        service not ready): started before Kafka or its topics, it still comes up."""
        backoff = 0.5
        while not self._stop.is_set():
            consumer = Consumer(
                {
                    "bootstrap.servers": self._settings.kafka_bootstrap_servers,
                    "group.id": "recommendations-cache-unused",  # required by librdkafka
                    "enable.auto.commit": False,
                    "logger": LIBRDKAFKA_LOGGER,  # served by consume() and close()
                    **self._settings.client_overrides(),
                }
            )
            try:
                self._listen(consumer)
            except Exception as exc:
                self.assigned.clear()
                log.warning(
                    "cache invalidation listener failed; trying again",
                    extra={"reason": str(exc), "retry_in_seconds": backoff},
                )
            finally:
                consumer.close()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def _listen(self, consumer: Consumer) -> None:
        topic = self._settings.interactions_topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        if not partitions:
            raise LookupError(f"topic {topic} has no partitions (not created yet?)")
        # The end offsets resolved now, not at the first fetch (OFFSET_END is resolved
        # lazily): an interaction produced once `assigned` is set is never skipped.
        ends = [self._end_offset(consumer, TopicPartition(topic, p)) for p in partitions]
        if self._stop.is_set():
            return
        consumer.assign(
            [TopicPartition(topic, p, end) for p, end in zip(partitions, ends, strict=True)]
        )
        self.assigned.set()
        while not self._stop.is_set():
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    self._handle(message.value())

    def _end_offset(self, consumer: Consumer, partition: TopicPartition) -> int:
        """The partition's high watermark, asked again while Kafka has no leader for it yet
        (a topic just created): without it the listener cannot start."""
        while True:
            try:
                return int(consumer.get_watermark_offsets(partition, timeout=10)[1])
            except KafkaException as exc:
                error = exc.args[0]
                if not (error.retriable() or error.code() in _NO_LEADER_YET):
                    raise
                log.info("waiting for a partition leader", extra={"reason": error.str()})
                if self._stop.wait(0.2):
                    return OFFSET_END  # stopping: the caller checks before assigning

    def _handle(self, value: bytes) -> None:
        try:
            record = orjson.loads(value)
            user, weight = record.get("user_id"), float(record.get("weight", 0))
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            return  # not ours to judge: the sink dead-letters malformed interactions
        # Negative feedback too: the filter hides the item at once, so should the cache.
        if user and (weight >= self._settings.recommendations_invalidate_weight or weight < 0):
            self._invalidate(user)
