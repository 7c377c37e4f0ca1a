"""The one normaliser of Amplitude events: every shape Amplitude sends, time you can trust."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.amplitude import (
    MAX_TIME_MS,
    InvalidEvent,
    epoch_ms,
    normalize,
    parse_time_string,
)
from tests.fixtures.amplitude_fixtures import (
    WEBHOOK_EVENT_TIME_MS,
    WEBHOOK_INSERT_ID,
    WEBHOOK_USER,
    export_rows,
    http_v2_body,
    webhook_default_payload,
)

NOW_MS = 1_800_000_000_000  # 2027-01-15: after every fixture
DAY_MS = 86_400_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def norm(raw: bytes | dict[str, Any], now_ms: int = NOW_MS) -> Any:
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    return normalize(data, now_ms, DAY_MS)


def test_the_webhook_default_payload_is_read_with_its_own_time_and_insert_id() -> None:
    event = norm(webhook_default_payload())
    assert (event.user_id, event.insert_id, event.time_ms, event.time_field) == (
        WEBHOOK_USER,
        WEBHOOK_INSERT_ID,
        WEBHOOK_EVENT_TIME_MS,
        "event_time",
    )
    assert event.uuid == "b7f5c2a2-98c4-11ec-9a4e-0a1b2c3d4e5f"
    assert event.event_properties == {"item_id": "docs-item-1"}


def test_export_rows_in_each_documented_time_format() -> None:
    events = [norm(row) for row in export_rows()]
    assert [e.time_ms for e in events] == [
        ms("2020-02-15 01:00:00.123"),  # 6 digits: the sub-ms part is dropped
        ms("2015-08-10 12:00:00"),  # T separator
        ms("2022-10-24 20:07:32.123"),  # T, 3 digits
    ]
    anonymous = events[1]
    assert (anonymous.user_id, anonymous.device_id, anonymous.actor) == (
        None,
        "docs-device-3",
        "docs-device-3",
    )


def test_http_v2_events_are_read_as_sent() -> None:
    for raw in orjson.loads(http_v2_body())["events"]:
        event = norm(raw)
        assert (event.time_ms, event.time_field) == (raw["time"], "time")
        assert event.insert_id == raw["insert_id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-02-28 20:07:01.795", ms("2022-02-28 20:07:01.795")),
        ("2022-02-28T20:07:01.795", ms("2022-02-28 20:07:01.795")),
        ("2022-02-28 20:07:01", ms("2022-02-28 20:07:01")),
        ("2022-02-28 20:07:01.795000", ms("2022-02-28 20:07:01.795")),
        ("2022-02-28T20:07:01.795Z", ms("2022-02-28 20:07:01.795")),
        ("2022-02-28T22:07:01.795+02:00", ms("2022-02-28 20:07:01.795")),
        ("2022-02-28", None),  # a date is not an event time
        ("yesterday", None),
        ("2022-13-01 00:00:00", None),
        ("1970-01-01 00:00:00", None),  # before the plausible window
    ],
)
def test_time_strings(text: str, expected: int | None) -> None:
    assert parse_time_string(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1700000000, 1700000000000),  # seconds
        (1700000000.5, 1700000000500),
        (1700000000000, 1700000000000),  # milliseconds
        (1700000000000123, 1700000000000),  # microseconds
        (1700000000000123456, 1700000000000),  # nanoseconds
    ],
)
def test_numeric_times_are_read_by_magnitude(value: float, expected: int) -> None:
    assert epoch_ms(value) == expected


@pytest.mark.parametrize(
    "value",
    [0, 5, -1700000000000, 1e20, 10**400, 100_000_000_005, 999_999_999_999, float("inf")],
)
def test_implausible_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match=r"plausible|finite"):
        epoch_ms(value)


@pytest.mark.parametrize(
    ("time", "detail"),
    [
        (5, "5"),
        (1e20, "1e+20"),
        ("not a time", "not a time"),
        (True, "True"),
        ({"ms": 1}, "ms"),
    ],
)
def test_an_unreadable_time_is_invalid_time_with_the_value(time: Any, detail: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        norm({"event_type": "click", "user_id": "u", "time": time})
    assert caught.value.reason == "invalid_time"
    assert detail in caught.value.detail and "time" in caught.value.detail


def test_absurd_literals_are_invalid_time_not_a_decode_failure() -> None:
    for literal in (b"1e400", b"9" * 400):
        raw = b'{"event_type": "click", "user_id": "u", "time": ' + literal + b"}"
        with pytest.raises(InvalidEvent) as caught:
            normalize(raw, NOW_MS, DAY_MS)
        assert caught.value.reason == "invalid_time"
        assert len(caught.value.detail) < 200


def test_no_time_is_none_never_1970() -> None:
    event = norm({"event_type": "click", "user_id": "u"})
    assert (event.time_ms, event.time_field) == (None, None)


def test_the_first_time_field_present_decides() -> None:
    event = norm(
        {
            "event_type": "click",
            "user_id": "u",
            "time": None,
            "client_event_time": "2022-02-28 20:07:01.000",
            "server_received_time": "2022-02-28 20:08:00.000",
        }
    )
    assert (event.time_ms, event.time_field) == (ms("2022-02-28 20:07:01"), "client_event_time")


def test_far_future_is_refused_and_the_tolerance_is_kept() -> None:
    ok = norm({"event_type": "click", "user_id": "u", "time": NOW_MS + DAY_MS})
    assert ok.time_ms == NOW_MS + DAY_MS
    with pytest.raises(InvalidEvent) as caught:
        norm({"event_type": "click", "user_id": "u", "time": NOW_MS + DAY_MS + 1})
    assert caught.value.reason == "future_time"
    # Year 9999 and beyond can never be delivered, whatever the clock.
    with pytest.raises(InvalidEvent) as late:
        normalize(orjson.dumps({"event_type": "c", "user_id": "u", "time": 2.6e14}), MAX_TIME_MS, 0)
    assert late.value.reason == "invalid_time"


def test_dedup_key_is_scoped_to_the_actor() -> None:
    base = {"event_type": "click", "insert_id": "same", "time": 1700000000000}
    alice = norm({**base, "user_id": "alice"}).dedup_key
    bob = norm({**base, "user_id": "bob"}).dedup_key
    device = norm({**base, "device_id": "alice"}).dedup_key
    assert len({alice, bob, device}) == 3
    assert norm({**base, "user_id": "alice", "device_id": "d9"}).dedup_key == alice
    # No ambiguity from where the actor ends: ("ab", "c") is not ("a", "bc").
    assert (
        norm({**base, "user_id": "ab", "insert_id": "c"}).dedup_key
        != norm({**base, "user_id": "a", "insert_id": "bc"}).dedup_key
    )


def test_export_insert_id_and_uuid_are_dedup_keys_like_insert_id() -> None:
    live = norm({"event_type": "click", "user_id": "u", "insert_id": "k", "time": 1700000000000})
    export = norm({"event_type": "click", "user_id": "u", "$insert_id": "k"})
    assert live.dedup_key == export.dedup_key is not None
    only_uuid = norm({"event_type": "click", "user_id": "u", "uuid": "row-1"})
    assert only_uuid.dedup_key is not None and b"row-1" in only_uuid.dedup_key
    assert norm({"event_type": "click", "user_id": "u"}).dedup_key is None


def test_unknown_fields_are_kept_in_the_raw_bytes_and_ignored_here() -> None:
    event = norm({"event_type": "click", "user_id": "u", "platform": "iOS", "x": [1, {"y": 2}]})
    assert event.event_type == "click"
