"""From raw bytes to interaction, filter or dead letter, without a broker."""

from typing import Any

import orjson
import pytest

from schemas import load_rules
from streams.weighting import DeadLetter, Filtered, Weighed, Weigher
from tests.fixtures.amplitude_fixtures import export_rows


@pytest.fixture
def weigher() -> Weigher:
    return Weigher(load_rules(), ["item_id", "itemId", "content_id"])


def event(**fields: Any) -> bytes:
    base = {
        "event_type": "click",
        "user_id": "u1",
        "session_id": 1700000000000,
        "time": 1700000001000,
        "insert_id": "ins-1",
        "event_properties": {"item_id": "i1"},
    }
    base.update(fields)
    return orjson.dumps(base)


def test_click_is_weighted(weigher: Weigher) -> None:
    outcome = weigher.weigh(event())
    assert isinstance(outcome, Weighed)
    i = outcome.interaction
    assert (i.user_id, i.session_id, i.item_id, i.event_type, i.weight, i.timestamp_ms) == (
        "u1",
        "1700000000000",
        "i1",
        "click",
        1.0,
        1700000001000,
    )
    assert i.personalize_event_type == "click"
    assert i.key == "u1"


def test_alias_is_canonicalised(weigher: Weigher) -> None:
    outcome = weigher.weigh(event(event_type="fundraise"))
    assert isinstance(outcome, Weighed)
    assert (outcome.interaction.event_type, outcome.interaction.weight) == ("donate", 3.0)


def test_unknown_type_is_filtered(weigher: Weigher) -> None:
    assert weigher.weigh(event(event_type="page_view")) == Filtered("page_view")


def test_item_id_from_later_property_names(weigher: Weigher) -> None:
    outcome = weigher.weigh(event(event_properties={"content_id": 42}))
    assert isinstance(outcome, Weighed)
    assert outcome.interaction.item_id == "42"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"event_type": "click",', "undecodable_json"),
        (orjson.dumps({"event_type": "click"}), "schema_invalid"),
        (orjson.dumps({"user_id": "u1"}), "schema_invalid"),
        (event(event_properties={}), "missing_item_id"),
        (event(user_id="u" * 300), "schema_invalid"),
    ],
)
def test_unusable_events_are_dead_letters(weigher: Weigher, raw: bytes, reason: str) -> None:
    outcome = weigher.weigh(raw)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason == reason
    assert outcome.detail


def test_anonymous_events_use_the_device_id(weigher: Weigher) -> None:
    outcome = weigher.weigh(event(user_id=None, device_id="d1"))
    assert isinstance(outcome, Weighed)
    assert outcome.interaction.user_id is None
    assert outcome.interaction.key == "d1"


def test_sessionless_events_get_a_stable_daily_session(weigher: Weigher) -> None:
    first = weigher.weigh(event(session_id=-1, time=1700000001000))
    again = weigher.weigh(event(session_id=-1, time=1700000009000, insert_id="ins-2"))
    assert isinstance(first, Weighed) and isinstance(again, Weighed)
    assert first.interaction.session_id == again.interaction.session_id == "u1:20231114"


def test_event_id_is_stable_per_actor_and_insert_id(weigher: Weigher) -> None:
    a, b = weigher.weigh(event()), weigher.weigh(event(time=1700000009000))
    c = weigher.weigh(event(insert_id="other"))
    d = weigher.weigh(event(user_id="u2"))
    outcomes = (a, b, c, d)
    assert all(isinstance(o, Weighed) for o in outcomes)
    ids = [o.interaction.event_id for o in outcomes]  # type: ignore[union-attr]
    assert ids[0] == ids[1] and len(set(ids)) == 3


def test_anonymous_sessions_are_namespaced_by_device(weigher: Weigher) -> None:
    one = weigher.weigh(event(user_id=None, device_id="d1"))
    two = weigher.weigh(event(user_id=None, device_id="d2"))
    known = weigher.weigh(event(device_id="d1"))
    assert isinstance(one, Weighed) and isinstance(two, Weighed) and isinstance(known, Weighed)
    assert (one.interaction.session_id, two.interaction.session_id) == (
        "d1:1700000000000",
        "d2:1700000000000",
    )
    assert known.interaction.session_id == "1700000000000"  # a known user's session: as sent
    long_device = weigher.weigh(event(user_id=None, device_id="d" * 250))
    assert isinstance(long_device, Weighed)
    assert len(long_device.interaction.session_id) <= 256


def test_the_event_time_is_the_events_own(weigher: Weigher) -> None:
    seconds = weigher.weigh(event(time=1700000001))  # a sender's mistake: seconds
    export = weigher.weigh(event(time=None, event_time="2023-11-14 22:13:21.000"))
    assert isinstance(seconds, Weighed) and isinstance(export, Weighed)
    assert seconds.interaction.timestamp_ms == export.interaction.timestamp_ms == 1700000001000
    assert not seconds.untimed
    timeless = weigher.weigh(event(time=None), now_ms=1700000005000)
    assert isinstance(timeless, Weighed) and timeless.untimed
    assert timeless.interaction.timestamp_ms == 1700000005000


@pytest.mark.parametrize(
    ("time", "reason"),
    [(1e20, "invalid_time"), (5, "invalid_time"), (4102444800000, "future_time")],
)
def test_untrustworthy_times_are_dead_letters(weigher: Weigher, time: float, reason: str) -> None:
    outcome = weigher.weigh(event(time=time), now_ms=1700000005000)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason == reason and str(time)[:4] in outcome.detail


def test_an_export_row_and_its_live_twin_are_one_interaction(weigher: Weigher) -> None:
    live = {
        "event_type": "upvote",
        "user_id": "docs-user-2",
        "device_id": "E1C9A2B4-6D8F-4A1B-9C3E-5F7A9B1C3D5E",
        "insert_id": "a1e9b0c2-7d3f-4e58-9b61-0c2d4e6f8a10",
        "time": 1581728400123,
        "session_id": 1581728390000,
        "event_properties": {"item_id": "docs-item-2"},
    }
    backfilled = weigher.weigh(export_rows()[0])
    twin = weigher.weigh(orjson.dumps(live))
    assert isinstance(backfilled, Weighed) and isinstance(twin, Weighed)
    assert backfilled.interaction == twin.interaction
    assert backfilled.dedup_key == twin.dedup_key


def test_impressions_carry_at_most_25_items_and_the_recommendation(weigher: Weigher) -> None:
    props = {
        "item_id": "i1",
        "impression": [f"i{n}" for n in range(30)],
        "recommendation_id": "rec-1",
    }
    outcome = weigher.weigh(event(event_type="initial_impression", event_properties=props))
    assert isinstance(outcome, Weighed)
    assert outcome.interaction.impression == [f"i{n}" for n in range(25)]
    assert outcome.interaction.recommendation_id == "rec-1"
    assert outcome.interaction.weight == 0.3


def test_unknown_fields_are_kept_on_the_event() -> None:
    from schemas import AmplitudeEvent

    parsed = AmplitudeEvent.model_validate_json(event(platform="iOS", country="NZ"))
    assert parsed.model_extra == {"platform": "iOS", "country": "NZ"}
