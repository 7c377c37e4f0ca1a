"""Backfill against a real broker: history lands on the raw topic, bad lines on dead letters."""

from collections.abc import Callable
from pathlib import Path

import orjson

from backfill import BackfillSettings, run_backfill
from core.settings import KafkaSettings
from tests.fixtures.export_files import export_row, ndjson, write_export_zip
from tests.fixtures.kafka_fixture import TopicReader


def test_export_zip_is_replayed_byte_for_byte(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader], tmp_path: Path
) -> None:
    rows = [export_row(f"u{n % 3}", n) for n in range(30)]
    path = write_export_zip(
        tmp_path / "export.zip",
        [ndjson(rows[:20]), [*ndjson(rows[20:]), b"{broken", b'{"event_type": "click"}']],
    )
    settings = BackfillSettings(**kafka_settings.model_dump(), backfill_rate=100_000)

    report = run_backfill(settings, [path], progress=False)

    assert (report.produced, report.dead_lettered, report.failed) == (30, 2, 0)
    assert report.reasons == {"malformed_json": 1, "missing_user_and_device_id": 1}
    raw = topic_reader(kafka_settings.raw_topic).read(30)
    events = {orjson.loads(m.value())["$insert_id"]: m for m in raw}
    assert set(events) == {row["$insert_id"] for row in rows}
    sample = events["u1-hist-1"]
    assert sample.key() == b"u1"
    assert sample.value() == orjson.dumps(rows[1])  # as exported: the stream stage maps it
    assert dict(sample.headers())["source"].decode().endswith("#0.json.gz")
    dead = topic_reader(kafka_settings.raw_dead_letter_topic).read(2)
    assert sorted(m.value() for m in dead) == [b'{"event_type": "click"}', b"{broken"]
