"""Hostile records through the stage with users and items mapped (hypothesis): no exception
escapes, each input is still exactly one outcome, and what reaches the users and items topics
is the contract's record."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from schemas import decode_item, decode_user
from schemas.rules import DatasetRules, FieldRule
from streams.catalog_reader import CatalogReader
from streams.catalog_updates import CatalogUpdates
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor
from tests.fixtures.recording_producer import RecordingProducer
from tests.unit.test_hostile_records import (
    FIELDS,
    HYPOTHESIS,
    TO,
    WEIGHER,
    filtered_count,
    ids,
    values,
    write,
)

USERS = DatasetRules(
    field=[
        FieldRule(name="COUNTRY", source="country"),
        FieldRule(name="PLAN", source="user_properties.plan", multi_value=True),
        FieldRule(name="AGE", source="user_properties.age", type="int"),
        FieldRule(name="SCORE", source="user_properties.score", type="float"),
    ]
)
ITEMS = DatasetRules(
    field=[
        FieldRule(name="CATEGORY", source="event_properties.category"),
        FieldRule(name="CREATION_TIMESTAMP", source="event_properties.t", type="timestamp"),
    ]
)
props = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"plan": values, "age": values, "score": values, "$set": values}
    ),
    values,
)
records = st.fixed_dictionaries(
    {},
    optional={
        **{k: v for k, v in FIELDS.items() if k != "event_properties"},
        "event_type": st.one_of(st.none(), FIELDS["event_type"]),
        "country": values,
        "user_properties": props,
        "event_properties": st.one_of(
            st.fixed_dictionaries({}, optional={"item_id": ids, "category": values, "t": values}),
            values,
        ),
    },
).map(write)


def user_records_in() -> float:
    return REGISTRY.get_sample_value("streams_user_records_in_total") or 0


@HYPOTHESIS
@given(raw=records)
def test_the_stage_with_users_and_items_never_raises_and_writes_only_contract_records(
    raw: bytes,
) -> None:
    output = RecordingProducer()
    catalog = CatalogUpdates(
        CatalogReader(USERS, ITEMS, ["item_id"]), output, "users", "items", "state"
    )
    processor = BatchProcessor(WEIGHER, SeenInsertIds(86400), output, TO, catalog=catalog)
    before, users_before = filtered_count(), user_records_in()
    processor.process([(0, b"k", raw)])
    catalog.write_state()
    outcomes = [r.topic for r in output.records if r.topic in ("out", "dlq")]
    others = filtered_count() - before + user_records_in() - users_before
    assert len(outcomes) + others == 1
    for record in output.records:
        value: Any = record.value
        if record.topic == "users":
            assert decode_user(value).user_id.encode() == record.key
        if record.topic == "items":
            assert decode_item(value).item_id.encode() == record.key
