"""Users and items from raw records, with a fake producer: a record per change, state kept."""

from typing import Any

import orjson
import pytest

from schemas import decode_item, decode_user, load_rules
from schemas.rules import DatasetRules, FieldRule
from streams.catalog_reader import CatalogReader
from streams.catalog_updates import CatalogUpdates
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor, Destinations
from streams.weighting import Weigher
from tests.fixtures.recording_producer import RecordingProducer

USERS = DatasetRules(
    field=[
        FieldRule(name="COUNTRY", source="country"),
        FieldRule(name="PLAN", source="user_properties.plan"),
        FieldRule(name="AGE", source="user_properties.age", type="int"),
    ]
)
ITEMS = DatasetRules(field=[FieldRule(name="CATEGORY", source="event_properties.category")])


def updates(output: RecordingProducer) -> CatalogUpdates:
    reader = CatalogReader(USERS, ITEMS, ["item_id", "content_id"])
    return CatalogUpdates(reader, output, "users", "items", "state")


def raw(**fields: Any) -> bytes:
    return orjson.dumps({"event_type": "click", "user_id": "u1", **fields})


def users_out(output: RecordingProducer) -> list[dict[str, Any]]:
    return [decode_user(r.value).fields for r in output.on("users")]  # type: ignore[arg-type]


def test_a_record_only_when_the_mapped_fields_change() -> None:
    output = RecordingProducer()
    catalog = updates(output)
    for n in range(1000):
        catalog.observe(0, raw(country="DE", user_properties={"plan": "free", "x": n}), n)
    assert users_out(output) == [{"COUNTRY": "DE", "PLAN": "free"}]
    catalog.observe(0, raw(user_properties={"plan": "pro"}), 2000)  # country not repeated
    assert users_out(output)[1:] == [{"COUNTRY": "DE", "PLAN": "pro"}]  # merged, whole state
    last = decode_user(output.on("users")[-1].value)  # type: ignore[arg-type]
    assert (last.user_id, last.updated_at_ms) == ("u1", 2000)
    assert output.on("users")[-1].key == b"u1"


def test_identify_operations_and_bad_values() -> None:
    output = RecordingProducer()
    catalog = updates(output)
    identify = {"user_id": "u2", "user_properties": {"$set": {"plan": "team", "age": "41"}}}
    catalog.observe(1, orjson.dumps(identify), 5)
    catalog.observe(1, orjson.dumps({**identify, "user_properties": {"age": "old"}}), 6)
    assert users_out(output) == [{"PLAN": "team", "AGE": 41}]  # the bad age is left out
    catalog.observe(1, b'{"user_id": "u2", "user_properties": "not an object"}', 7)  # counted
    catalog.observe(1, b"not json", 8)
    assert len(output.on("users")) == 1


def test_items_by_the_interactions_item_id_and_anonymous_users_are_no_users() -> None:
    output = RecordingProducer()
    catalog = updates(output)
    event = {"event_type": "view", "device_id": "d1", "country": "DE"}
    catalog.observe(
        0, orjson.dumps({**event, "event_properties": {"content_id": 7, "category": "news"}}), 1
    )
    catalog.observe(
        2, orjson.dumps({**event, "event_properties": {"content_id": 7, "category": "news"}}), 2
    )
    items = [decode_item(r.value) for r in output.on("items")]  # type: ignore[arg-type]
    assert [(i.item_id, i.fields) for i in items] == [
        ("7", {"CATEGORY": "news"})
    ] * 2  # per partition
    assert output.on("users") == []


def test_the_state_survives_through_its_changelog_records() -> None:
    output = RecordingProducer()
    catalog = updates(output)
    catalog.observe(3, raw(country="DE", event_properties={"item_id": "i1", "category": "a"}), 9)
    assert output.on("state") == []  # only after the batch's records are acknowledged
    catalog.write_state()
    state = [(r.key, r.value, r.partition) for r in output.on("state")]
    assert {(k, p) for k, _, p in state} == {(b"3/u/u1", 3), (b"3/i/i1", 3)}
    restarted_output = RecordingProducer()
    restarted = updates(restarted_output)
    assert restarted.load([(k, v) for k, v, _ in state] + [(b"junk", b"x")]) == 2
    restarted.observe(3, raw(country="DE", event_properties={"item_id": "i1", "category": "a"}), 10)
    assert restarted_output.records == []
    assert restarted.drop({3}) == 2
    restarted.observe(3, raw(country="DE"), 11)
    assert len(restarted_output.on("users")) == 1


@pytest.fixture
def processor_and_output() -> tuple[BatchProcessor, RecordingProducer]:
    output = RecordingProducer()
    to = Destinations(interactions="out", dead_letters="dlq", seen_changelog="seen")
    rules = load_rules()
    reader = CatalogReader(rules.users, rules.items, ["item_id"])
    catalog = CatalogUpdates(reader, output, "users", "items", "state")
    weigher = Weigher(rules, ["item_id"])
    return BatchProcessor(weigher, SeenInsertIds(86400), output, to, catalog=catalog), output


def test_the_stage_reads_user_records_and_every_usable_event(
    processor_and_output: tuple[BatchProcessor, RecordingProducer],
) -> None:
    processor, output = processor_and_output
    user_record = orjson.dumps({"user_id": "u1", "country": "DE", "user_properties": {}})
    weighed = orjson.dumps(
        {
            "event_type": "click",
            "user_id": "u1",
            "language": "de",
            "time": 1700000000000,
            "event_properties": {"item_id": "i1", "category": "news"},
        }
    )
    filtered = orjson.dumps({"event_type": "page_view", "user_id": "u1", "platform": "iOS"})
    no_type = orjson.dumps({"user_id": "u1", "country": "FR"})  # no user_properties: bad
    processor.process(
        [(0, b"u1", user_record), (0, b"u1", weighed), (0, b"u1", filtered), (0, b"u1", no_type)]
    )
    assert users_out(output) == [
        {"COUNTRY": "DE"},
        {"COUNTRY": "DE", "LANGUAGE": "de"},
        {"COUNTRY": "DE", "LANGUAGE": "de", "PLATFORM": "iOS"},
    ]
    assert [decode_item(r.value).fields for r in output.on("items")] == [{"CATEGORY": "news"}]  # type: ignore[arg-type]
    assert [r.value for r in output.on("dlq")] == [no_type]
    assert len(output.on("out")) == 1
