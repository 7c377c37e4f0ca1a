"""Consumer-group lag, exported from inside the service that owns the group.

A daemon thread asks Kafka, every few seconds, for the group's committed offsets and each
partition's high watermark, and sets `kafka_consumergroup_lag` (named as kafka_exporter names
it, so dashboards built for that exporter work unchanged). Lag counts from committed offsets:
what would be re-read after a crash, which is what an operator needs to see grow or shrink.
The thread uses its own consumer that never subscribes, so it never joins or disturbs the group.
"""

import logging
import threading

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import Gauge

from core.kafka import LIBRDKAFKA_LOGGER
from core.settings import KafkaSettings

log = logging.getLogger(__name__)

LAG = Gauge(
    "kafka_consumergroup_lag",
    "Messages after the group's committed offset (high watermark - committed), per partition.",
    ["consumergroup", "topic", "partition"],
)


class LagReporter:
    def __init__(
        self, settings: KafkaSettings, group_id: str, topic: str, interval: float = 5.0
    ) -> None:
        self._settings, self._group, self._topic, self._interval = (
            settings,
            group_id,
            topic,
            interval,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consumer-lag", daemon=True)

    def start(self) -> "LagReporter":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.kafka_bootstrap_servers,
                "group.id": self._group,
                "enable.auto.commit": False,
                "logger": LIBRDKAFKA_LOGGER,
                **self._settings.client_overrides(),
            }
        )
        try:
            while not self._stop.is_set():
                try:
                    self._measure(consumer)
                except Exception as exc:  # a broker hiccup must not end the reporting
                    log.warning("consumer lag not measured", extra={"error": str(exc)})
                consumer.poll(0)  # serves librdkafka's log lines (it is never assigned)
                self._stop.wait(self._interval)
        finally:
            consumer.close()

    def _measure(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(self._topic, timeout=5).topics[self._topic]
        partitions = [TopicPartition(self._topic, p) for p in metadata.partitions]
        for committed in consumer.committed(partitions, timeout=5):
            _, high = consumer.get_watermark_offsets(committed, timeout=5, cached=False)
            start = committed.offset if committed.offset >= 0 else 0
            LAG.labels(self._group, self._topic, str(committed.partition)).set(max(0, high - start))
