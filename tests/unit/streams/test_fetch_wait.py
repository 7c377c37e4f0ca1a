"""The stage's aiokafka consumer waits at most `fetch_max_wait_ms` for new records, not Faust's
1.5 s: a fetch in flight for quiet partitions otherwise stalls every other partition behind it
(streams/consumer.py)."""

from pathlib import Path

import pytest

import streams.app
from streams.app import create_app
from streams.consumer import BatchingConsumer
from streams.settings import StreamsSettings


async def test_the_worker_consumer_is_built_with_the_short_fetch_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faust's sensors register in the default registry: another test may have made an app.
    monkeypatch.setattr(streams.app, "setup_prometheus_sensors", lambda *_, **__: None)
    app = create_app(StreamsSettings(streams_data_dir=tmp_path))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == BatchingConsumer.fetch_max_wait_ms == 100
    finally:
        await consumer.stop()  # never started: releases what its constructor made
