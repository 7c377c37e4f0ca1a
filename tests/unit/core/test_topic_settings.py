"""Topic durability and retention settings, and where each consumer starts (docs/kafka.md)."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.settings import KafkaSettings
from sinks.history.settings import HistorySettings
from sinks.personalize import SinkSettings
from streams import StreamsSettings

HOUR_MS = 3600 * 1000


def test_each_topic_gets_its_retention_and_min_insync_replicas() -> None:
    settings = KafkaSettings(
        topic_replication_factor=3,
        topic_min_insync_replicas=2,
        raw_topic_retention_hours=48,
        interactions_topic_retention_hours=24,
        dead_letter_topic_retention_hours=1000,
    )
    configs = settings.topic_configs()
    assert set(configs) == set(settings.all_topics)
    assert {t: c.get("retention.ms") for t, c in configs.items()} == {
        "amplitude.raw": str(48 * HOUR_MS),
        "interactions.weighted": str(24 * HOUR_MS),
        "amplitude.raw.dead-letter": str(1000 * HOUR_MS),
        "interactions.dead-letter": str(1000 * HOUR_MS),
        "users.metadata.dead-letter": str(1000 * HOUR_MS),
        "items.metadata.dead-letter": str(1000 * HOUR_MS),
        "users.metadata": None,  # compacted: each user's latest record is kept for ever
        "items.metadata": None,
    }
    policies = {t: c["cleanup.policy"] for t, c in configs.items()}
    assert {t for t, p in policies.items() if p == "compact"} == {
        "users.metadata",
        "items.metadata",
    }
    assert {c["min.insync.replicas"] for c in configs.values()} == {"2"}


def test_the_defaults_keep_dead_letters_longest() -> None:
    settings = KafkaSettings()
    assert settings.dead_letter_topic_retention_hours == 30 * 24
    assert settings.raw_topic_retention_hours == settings.interactions_topic_retention_hours == 168
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (1, None)
    # Unset, the cluster's own min.insync.replicas applies: no topic-level value weakens it.
    assert all("min.insync.replicas" not in c for c in settings.topic_configs().values())


def test_a_minimum_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError, match="TOPIC_MIN_INSYNC_REPLICAS"):
        KafkaSettings(topic_replication_factor=1, topic_min_insync_replicas=2)


def test_the_sinks_start_a_group_at_the_earliest_offset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sinks.history.sink
    import sinks.personalize.sink

    seen: list[dict[str, Any]] = []

    class Recording:  # stands in for confluent-kafka's Consumer and Producer: no broker here
        def __init__(self, config: dict[str, Any]) -> None:
            seen.append(config)

    for module in (sinks.personalize.sink, sinks.history.sink):
        monkeypatch.setattr(module, "Consumer", Recording)
    monkeypatch.setattr(sinks.personalize.sink, "Producer", Recording)
    sinks.personalize.sink.PersonalizeSink(SinkSettings(sink_dry_run=True))
    sinks.history.sink.HistorySink(HistorySettings(history_target=str(tmp_path)))
    consumers = [c for c in seen if "group.id" in c]
    assert [(c["group.id"], c["auto.offset.reset"]) for c in consumers] == [
        ("personalize-sink", "earliest"),
        ("interactions-history", "earliest"),
    ]


def test_the_stream_stage_starts_a_group_at_the_earliest_offset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import streams.producer
    from streams.app import create_app

    monkeypatch.setattr(streams.producer, "Producer", lambda config: None)  # no broker here
    app = create_app(StreamsSettings(streams_data_dir=tmp_path))
    assert app.conf.consumer_auto_offset_reset == "earliest"
