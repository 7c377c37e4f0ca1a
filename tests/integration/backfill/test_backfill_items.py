"""`pipeline backfill-items` against a real broker: a catalogue's items on the items topic."""

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from schemas import decode_item
from tests.fixtures.kafka_fixture import TopicReader, topic_env


def test_a_catalogue_file_reaches_the_items_topic_and_bad_rows_are_reported(
    kafka_settings: KafkaSettings, topic_reader: Callable[[str], TopicReader], tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"items_topic": f"items-{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text("item_id,category,created_at\ni1,news,1700000000000\n,news,\ni3,sport,\n")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "backfill-items", "--file", str(catalogue)],
        env={**os.environ, **topic_env(settings), "ITEMS_TOPIC": settings.items_topic},
        capture_output=True,
        timeout=60,
        check=True,
    )
    report = orjson.loads(done.stdout)
    assert (report["produced"], report["skipped"], report["failed"]) == (2, 1, 0)
    assert report["bad_rows"] == [
        {"line": 3, "reason": "no item id (columns item_id, itemId, content_id)"}
    ]
    items = topic_reader(settings.items_topic).read(2)
    got = {m.key(): decode_item(m.value()).fields for m in items}
    assert got == {
        b"i1": {"CATEGORY": "news", "CREATION_TIMESTAMP": 1700000000},
        b"i3": {"CATEGORY": "sport"},
    }
