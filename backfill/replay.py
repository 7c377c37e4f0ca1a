"""Produce history to the raw topic at a bounded rate, with a progress bar.

Each line gets the webhook's light check, the raw topic's rule (`schemas.check_event`: an object
with an event type and a user or device id, keyed by the user, else the device); a line that
fails goes to the raw dead-letter topic with the reason, like a bad webhook
event, and the run goes on. A good line is produced byte for byte as Amplitude exported it: the
stream stage reads it through the same normaliser as a live event (schemas/amplitude.py), so a
backfilled event and its live twin are one interaction. The run ends only after Kafka
acknowledged every message.
"""

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from confluent_kafka import KafkaError, Message, Producer
from tqdm import tqdm

from backfill.export_files import read_lines
from backfill.settings import BackfillSettings
from core.kafka import produce_when_room, producer_config
from schemas import check_event


@dataclass
class BackfillReport:
    produced: int = 0
    dead_lettered: int = 0
    failed: int = 0  # not acknowledged by Kafka
    reasons: dict[str, int] = field(default_factory=dict)


def run_backfill(
    settings: BackfillSettings, paths: Iterable[Path], progress: bool = True
) -> BackfillReport:
    report = BackfillReport()
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    run_id = f"backfill-{uuid.uuid4().hex[:12]}".encode()

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            report.failed += 1

    started = time.monotonic()
    sent = 0
    with tqdm(unit="ev", disable=not progress, desc="backfill") as bar:
        for path in paths:
            for line in read_lines(path):
                headers = [
                    ("received_at_ms", str(int(time.time() * 1000)).encode()),
                    ("request_id", run_id),
                    ("content_type", b"application/x-ndjson"),
                    ("source", line.source.encode()),
                ]
                try:
                    actor, reason = check_event(orjson.loads(line.data))
                except orjson.JSONDecodeError:
                    actor, reason = None, "malformed_json"
                if actor is not None:
                    produce_when_room(
                        producer,
                        settings.raw_topic,
                        line.data,
                        key=actor.encode(),
                        headers=headers,
                        on_delivery=delivered,
                    )
                    report.produced += 1
                else:
                    report.dead_lettered += 1
                    report.reasons[reason] = report.reasons.get(reason, 0) + 1
                    headers += [("dead_letter_reason", reason.encode()), ("stage", b"backfill")]
                    produce_when_room(
                        producer,
                        settings.raw_dead_letter_topic,
                        line.data,
                        key=b"",
                        headers=headers,
                        on_delivery=delivered,
                    )
                sent += 1
                bar.update()
                _pace(started, sent, settings.backfill_rate)
                producer.poll(0)
    left = producer.flush(60)
    report.failed += left
    return report


def _pace(started: float, sent: int, rate: float) -> None:
    """Stay at or under `rate` events/s (checked every 100 events to keep the loop cheap)."""
    if sent % 100:
        return
    ahead = sent / rate - (time.monotonic() - started)
    if ahead > 0:
        time.sleep(ahead)
