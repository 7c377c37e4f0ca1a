"""The worker on a real broker: user records and events' user and item properties become
records on the users and items topics, only on a change, and a restart keeps the state."""

import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from schemas import decode_item, decode_user
from schemas.rules import DEFAULT_RULES_PATH
from tests.fixtures.kafka_fixture import TopicReader
from tests.integration.streams.test_app import metric, produce, start_worker

RULES = """
[[users.field]]
name = "COUNTRY"
source = "country"

[[users.field]]
name = "PLAN"
source = "user_properties.plan"

[[items.field]]
name = "CATEGORY"
source = "event_properties.category"

[[items.field]]
name = "CREATION_TIMESTAMP"
source = "event_properties.created_at"
type = "timestamp"
"""


@pytest.fixture
def settings(kafka_settings: KafkaSettings, tmp_path: Path) -> KafkaSettings:
    """The test's own users and items topics (the fixture's are the shared defaults)."""
    suffix = uuid.uuid4().hex[:8]
    own = kafka_settings.model_copy(
        update={"users_topic": f"users-{suffix}", "items_topic": f"items-{suffix}"}
    )
    ensure_topics(own)
    return own


def env(settings: KafkaSettings, tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules.toml"
    seed = DEFAULT_RULES_PATH.read_text().split("\n[[users.field]]", 1)[0]
    rules.write_text(seed + RULES)
    return {
        "USERS_TOPIC": settings.users_topic,
        "ITEMS_TOPIC": settings.items_topic,
        "STREAMS_RULES_PATH": str(rules),
    }


def event(user: str, n: int, plan: str, **props: object) -> tuple[bytes, bytes]:
    body = {
        "event_type": "click",
        "user_id": user,
        "time": 1700000000000 + n,
        "insert_id": f"{user}-{n}",
        "country": "DE",
        "user_properties": {"plan": plan, "email": "not@mapped.example"},
        "event_properties": {"item_id": f"item-{n % 3}", **props},
    }
    return user.encode(), orjson.dumps(body)


def user_record(user: str, plan: str) -> tuple[bytes, bytes]:
    """Amplitude's "Send Users" record: the Identify format, no event type."""
    body = {"user_id": user, "country": "DE", "user_properties": {"plan": plan}}
    return user.encode(), orjson.dumps(body)


def test_a_user_record_then_events_give_one_record_per_change(
    settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    users = topic_reader(settings.users_topic)
    worker = start_worker(
        settings, tmp_path, f"weigher-{uuid.uuid4().hex[:8]}", **env(settings, tmp_path)
    )
    try:
        produce(settings, [user_record("u1", "free")])
        first = decode_user(users.read(1)[0].value())
        assert (first.user_id, first.fields) == ("u1", {"COUNTRY": "DE", "PLAN": "free"})
        assert users.messages[0].key() == b"u1"
        # 1,000 events carrying the same properties: nothing new for the users topic
        produce(settings, [event("u1", n, "free") for n in range(1000)])
        produce(settings, [event("u1", 1000, "pro")])  # a changed property: one more record
        produce(settings, [event("u1", 1001, "team")])  # the sentinel, after all the others
        got = [decode_user(m.value()).fields["PLAN"] for m in users.read(3)]
        assert got == ["free", "pro", "team"]
        assert metric(worker, "streams_user_records_in_total ") == 1
        assert metric(worker, 'streams_catalog_unchanged_total{dataset="users"}') == 1000
        assert metric(worker, "streams_dead_letters_total") == 0
    finally:
        worker.stop()


def test_items_are_written_on_change_and_a_restart_keeps_the_state(
    settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    app_id = f"weigher-{uuid.uuid4().hex[:8]}"
    users, items = topic_reader(settings.users_topic), topic_reader(settings.items_topic)
    worker = start_worker(settings, tmp_path, app_id, "before", **env(settings, tmp_path))
    try:
        produce(settings, [event("u2", 0, "free", category="news", created_at=1700000000000)])
        item = decode_item(items.read(1)[0].value())
        assert (item.item_id, item.fields) == (
            "item-0",
            {"CATEGORY": "news", "CREATION_TIMESTAMP": 1700000000},
        )
        users.read(1)
    finally:
        assert worker.stop() == 0
    # A new process with an empty data directory: only the state table's changelog remembers.
    worker = start_worker(settings, tmp_path, app_id, "after", **env(settings, tmp_path))
    try:
        produce(settings, [event("u2", 3, "free", category="news", created_at=1700000000000)])
        produce(settings, [event("u2", 6, "free", category="sport")])  # item-0 changes
        changed = decode_item(items.read(2)[1].value())
        assert changed.fields == {"CATEGORY": "sport", "CREATION_TIMESTAMP": 1700000000}
        produce(settings, [event("u2", 7, "pro")])  # the user's sentinel
        assert [decode_user(m.value()).fields["PLAN"] for m in users.read(2)] == ["free", "pro"]
        assert len(items.poll()) == 2
    finally:
        worker.stop()
