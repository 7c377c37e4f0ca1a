"""A backfill run twice, as an operator would by mistake: the interactions are not doubled."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson

from devtools.stack import LocalStack
from tests.fixtures.export_files import export_row, ndjson, write_export_zip
from tests.fixtures.kafka_fixture import TopicReader, topic_env, wait_for
from tests.fixtures.service_process import scraped


def streams_duplicates(stack: LocalStack) -> float:
    """`streams_duplicates_total` as the stream stage exports it."""
    url = f"http://127.0.0.1:{stack.ports.streams_web}/metrics"
    return scraped(url, "streams_duplicates_total ")


def backfill(stack: LocalStack, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "backfill", str(path), "--rate", "5000"],
        env={**os.environ, **topic_env(stack.kafka)},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dict(orjson.loads(result.stdout.splitlines()[-1]))


def test_backfill_twice_gives_each_interaction_once(stack: LocalStack, tmp_path: Path) -> None:
    user = f"backfill-{uuid.uuid4().hex[:6]}"
    rows = [export_row(user, n) for n in range(12)]
    path = write_export_zip(tmp_path / "export.zip", [ndjson(rows[:6]), ndjson(rows[6:])])
    assert stack.bootstrap is not None
    reader = TopicReader(stack.bootstrap, stack.kafka.interactions_topic)
    try:

        def ours() -> list[dict[str, Any]]:
            values = [orjson.loads(m.value()) for m in reader.poll()]
            return [v for v in values if v["user_id"] == user]

        assert backfill(stack, path)["produced"] == 12
        wait_for(lambda: len(ours()) == 12, what="12 interactions from the first backfill")
        before = streams_duplicates(stack)

        assert backfill(stack, path)["produced"] == 12
        wait_for(
            lambda: streams_duplicates(stack) >= before + 12,
            what="the stream stage to recognise all 12 re-sent events as duplicates",
        )
        reader.poll()
        assert sorted(v["insert_id"] for v in ours()) == sorted(r["$insert_id"] for r in rows)
    finally:
        reader.close()
