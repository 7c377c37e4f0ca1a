"""The sink's poll loop: consume a batch, deliver it to Personalize, then commit its offsets.

Offsets follow delivery: a batch's offsets are committed only after every interaction in it was
delivered or dead-lettered (and the dead letters acknowledged by Kafka). An error that is neither
retryable nor the data's fault (a missing tracker, bad credentials) ends the loop with nothing
committed, so the data stays in Kafka.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from pydantic import ValidationError

from pipeline.kafka import consumer_config, producer_config
from schemas import Interaction
from sinks import metrics
from sinks.batcher import Call, group_calls
from sinks.personalize_client import build_client, put_events_request
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

DeadLetter = tuple[bytes, str]  # the record's bytes, the reason


class PersonalizeSink:
    def __init__(self, settings: SinkSettings) -> None:
        if not settings.sink_dry_run and not settings.aws_personalize_tracking_id:
            raise SystemExit(
                "AWS_PERSONALIZE_TRACKING_ID is not set: set it (and PERSONALIZE_ENDPOINT_URL "
                "for the emulator), or set SINK_DRY_RUN=true to only log what would be sent"
            )
        self._settings = settings
        self._client = None if settings.sink_dry_run else build_client(settings)
        self._pool = ThreadPoolExecutor(settings.sink_threads, thread_name_prefix="put-events")
        self._consumer = Consumer(consumer_config(settings, settings.sink_group_id))
        self._producer = Producer(producer_config(settings))
        self.ready = False

    def run(self, stop: threading.Event) -> None:
        self._consumer.subscribe([self._settings.interactions_topic], on_assign=self._on_assign)
        try:
            while not stop.is_set():
                messages = self._consumer.consume(
                    self._settings.sink_poll_max_messages, self._settings.sink_poll_timeout_seconds
                )
                if messages:
                    self._handle(messages)
        finally:
            self.ready = False
            self._pool.shutdown(wait=True)
            self._producer.flush(10)
            self._consumer.close()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": [p.partition for p in partitions]})
        self.ready = True

    def _handle(self, messages: list[Message]) -> None:
        dead: list[DeadLetter] = []
        interactions: list[Interaction] = []
        offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.error():
                log.warning("consume error", extra={"error": str(message.error())})
                continue
            key = (message.topic(), message.partition())
            offsets[key] = max(offsets.get(key, -1), message.offset() + 1)
            try:
                interactions.append(Interaction.model_validate_json(message.value()))
            except ValidationError as exc:
                dead.append((message.value(), f"invalid_interaction: {exc.errors()[0]['msg']}"))
        for found in self._pool.map(self._deliver, group_calls(interactions)):
            dead.extend(found)
        self._dead_letter(dead)
        self._consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )

    def _deliver(self, call: Call) -> list[DeadLetter]:
        """Send one call; on a validation error, split it to find and dead-letter the culprits."""
        started = time.perf_counter()
        try:
            self._put(call)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            metrics.CALLS.labels(outcome="error", error_code=code).inc()
            if code != "InvalidInputException":
                raise  # retries exhausted or not retryable: stop with nothing committed
            if len(call.interactions) == 1:
                message = exc.response.get("Error", {}).get("Message", "")
                metrics.EVENTS.labels(outcome="dead_lettered").inc()
                return [(_encode(call.interactions[0]), f"{code}: {message}")]
            dead: list[DeadLetter] = []
            for interaction in call.interactions:
                dead.extend(self._deliver(Call(call.user_id, call.session_id, [interaction])))
            return dead
        finally:
            metrics.CALL_DURATION.observe(time.perf_counter() - started)
        metrics.CALLS.labels(outcome="success", error_code="").inc()
        metrics.EVENTS.labels(outcome="delivered").inc(len(call.interactions))
        metrics.EVENTS_PER_CALL.observe(len(call.interactions))
        metrics.LAST_SUCCESS.set_to_current_time()
        return []

    def _put(self, call: Call) -> None:
        request = put_events_request(self._settings.aws_personalize_tracking_id or "", call)
        if self._client is None:
            log.info(
                "dry run: would send PutEvents",
                extra={"events": len(call.interactions), "session_id": call.session_id},
            )
            return
        self._client.put_events(**request)

    def _dead_letter(self, dead: list[DeadLetter]) -> None:
        for value, reason in dead:
            self._producer.produce(
                self._settings.interactions_dead_letter_topic,
                value,
                headers=[("dead_letter_reason", reason[:1000].encode()), ("stage", b"sink")],
            )
        if dead and self._producer.flush(30) > 0:
            raise RuntimeError("dead letters not acknowledged by Kafka; not committing")


def _encode(interaction: Interaction) -> bytes:
    return orjson.dumps(interaction.model_dump())


def run(settings: SinkSettings) -> None:
    import signal

    from sinks.status_server import start_status_server

    stop = threading.Event()
    sink = PersonalizeSink(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = start_status_server(
        settings.sink_status_host, settings.sink_status_port, lambda: sink.ready
    )
    log.info("sink started", extra={"status_port": settings.sink_status_port})
    try:
        sink.run(stop)
    finally:
        server.shutdown()
