"""docs/contracts.md's example consumer reads the interactions topic, dropping repeated ids."""

import subprocess
import sys
from pathlib import Path

from confluent_kafka import Producer

from core.settings import KafkaSettings
from schemas import InteractionRecord, interaction_encoder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_interactions.py"


def test_example_consumer_prints_each_interaction_once(kafka_settings: KafkaSettings) -> None:
    records = [
        InteractionRecord(
            event_id=f"e{n}",
            user_id="u1" if n else None,
            device_id="d1",
            session_id="1700000000000",
            item_id=f"item-{n}",
            event_type="click",
            personalize_event_type="click",
            weight=1.0,
            timestamp_ms=1700000000000 + n,
        )
        for n in range(2)
    ]
    producer = Producer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers})
    for record in [*records, records[1]]:  # the last one: a repeat after a producer crash
        producer.produce(
            kafka_settings.interactions_topic, interaction_encoder.encode(record), b"u1"
        )
    assert producer.flush(10) == 0
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--bootstrap",
            kafka_settings.kafka_bootstrap_servers,
            "--topic",
            kafka_settings.interactions_topic,
            "--group",
            "example-test",
            "--max-messages",
            "3",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.decode().splitlines() == [
        "device:d1 click item-0 weight=1.0 at=1700000000000",
        "u1 click item-1 weight=1.0 at=1700000000001",
    ]
