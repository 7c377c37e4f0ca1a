"""Splitting webhook bodies into raw event slices, bounded gunzip, and the light per-event check."""

import gzip
from typing import Any

import orjson
import pytest

from ingest.bodies import BodyError, gunzip, inspect_event, split_events
from schemas import check_event


def split(body: bytes, ndjson: bool = False) -> list[bytes]:
    return [bytes(raw) for raw in split_events(body, ndjson)]


def test_envelope_keeps_each_events_bytes_as_sent() -> None:
    body = b'{"events": [{"a": 1}, {"b":  [2, 3]}], "api_key": "x"}'
    assert split(body) == [b'{"a": 1}', b'{"b":  [2, 3]}']


def test_bare_array() -> None:
    assert split(b' [{"a": 1}, "x", 3]\n') == [b'{"a": 1}', b'"x"', b"3"]


def test_single_event() -> None:
    assert split(b'{"event_type": "click"}') == [b'{"event_type": "click"}']


def test_empty_envelope() -> None:
    assert split(b'{"events": []}') == []


@pytest.mark.parametrize("ndjson", [True, False])
def test_ndjson_declared_or_recognised(ndjson: bool) -> None:
    assert split(b'{"a": 1}\r\n\n{"b": 2}\n[3]\n', ndjson) == [b'{"a": 1}', b'{"b": 2}', b"[3]"]


@pytest.mark.parametrize(
    ("body", "ndjson", "message"),
    [
        (b"", False, "empty body"),
        (b"  \n", True, "empty body"),
        (b'{"a": 1}\n{oops', False, "line 2"),
        (b'{"a": 1}\n{oops', True, "line 2"),
        (b'{"events": [', False, "malformed JSON"),
        (b'{\n  "events": [\n', False, "malformed JSON: "),
        (b'[{"a": 1},', False, "malformed JSON"),
        (b'{"events": 3}', False, "array"),
        (b"42", False, "must be"),
    ],
)
def test_malformed_bodies(body: bytes, ndjson: bool, message: str) -> None:
    with pytest.raises(BodyError, match=message) as caught:
        split_events(body, ndjson)
    assert caught.value.status == 400


def test_gunzip_round_trip_and_multiple_members() -> None:
    assert gunzip(gzip.compress(b"hello ") + gzip.compress(b"world"), 100) == b"hello world"


def test_gunzip_refuses_a_bomb_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB in ~50 KiB
    with pytest.raises(BodyError, match="decompressed") as caught:
        gunzip(bomb, 1024 * 1024)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"not gzip", "not valid gzip"), (gzip.compress(b"x" * 100)[:20], "trunc")],
)
def test_gunzip_bad_input(data: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message) as caught:
        gunzip(data, 1000)
    assert caught.value.status == 400


INSPECT_CASES: list[tuple[Any, tuple[bytes | None, str | None]]] = [
    ({"event_type": "click", "user_id": "u", "device_id": "d"}, (b"u", None)),
    ({"event_type": "click", "device_id": "d"}, (b"d", None)),
    # The stream stage could not use it (its user id must be a string): refused here, saying so.
    ({"event_type": "click", "user_id": 5, "device_id": "d"}, (None, "user_id_not_a_string")),
    ({"event_type": "click", "user_id": 12345}, (None, "user_id_not_a_string")),
    ({"event_type": "click", "user_id": ["u"]}, (None, "user_id_not_a_string")),
    ({"event_type": "click", "user_id": None, "device_id": 7}, (None, "device_id_not_a_string")),
    ({"event_type": "click", "user_id": "", "device_id": {}}, (None, "device_id_not_a_string")),
    ({"event_type": "click", "user_id": None, "device_id": "d"}, (b"d", None)),
    ({"event_type": "click", "user_id": "\u00e9"}, ("\u00e9".encode(), None)),
    ("click", (None, "not_an_object")),
    ([1], (None, "not_an_object")),
    ({"user_id": "u"}, (None, "missing_event_type")),
    ({"event_type": 3, "user_id": "u"}, (None, "missing_event_type")),
    ({"event_type": "click"}, (None, "missing_user_and_device_id")),
    ({"event_type": "click", "user_id": ""}, (None, "missing_user_and_device_id")),
    ({"event_type": "click", "user_id": "u", "pad": "x" * 200}, (None, "event_too_large")),
    # Amplitude's user records ("Send Users", Identify format): no event type, user_properties
    ({"user_id": "u", "user_properties": {"plan": "pro"}}, (b"u", None)),
    ({"event_type": None, "device_id": "d", "user_properties": {}}, (b"d", None)),
    ({"user_properties": {}}, (None, "missing_user_and_device_id")),
    ({"user_id": 5, "user_properties": {}}, (None, "user_id_not_a_string")),
    ({"user_id": "u", "user_properties": "plan"}, (None, "missing_event_type")),
    ({"event_type": "", "user_id": "u", "user_properties": {}}, (None, "missing_event_type")),
]


@pytest.mark.parametrize(("event", "expected"), INSPECT_CASES)
def test_inspect_event(event: Any, expected: tuple[bytes | None, str | None]) -> None:
    assert inspect_event(orjson.dumps(event), max_bytes=200) == expected


@pytest.mark.parametrize(
    "event", [case[0] for case in INSPECT_CASES if case[1][1] != "event_too_large"]
)
def test_ingest_applies_the_raw_topics_rule_as_backfill_does(event: Any) -> None:
    """Ingest reads the fields with msgspec, backfill from a decoded dict (`check_event`): the
    same rule (schemas.check_actor), so the same answers and the same key."""
    key, reason = inspect_event(orjson.dumps(event), max_bytes=10_000)
    actor, expected = check_event(event)
    assert (key, reason) == (None if actor is None else actor.encode(), expected)


@pytest.mark.parametrize("body", [b'{"event_type": "click", "user_id": "u"}', b'[{"a": 1}]'])
def test_a_utf8_byte_order_mark_is_read(body: bytes) -> None:
    assert split_events(b"\xef\xbb\xbf" + body) == split_events(body)


def test_a_utf8_byte_order_mark_before_ndjson_is_read() -> None:
    body = b'{"event_type": "a", "user_id": "u"}\n{"event_type": "b", "user_id": "u"}'
    assert len(split_events(b"\xef\xbb\xbf" + body, ndjson=True)) == 2


BAD_UTF8 = b'{"event_type": "click", "user_id": "\xff\xfe"}'
GOOD = b'{"event_type": "click", "user_id": "u"}'
DEEP = b'{"event_type": "click", "user_id": "u", "p": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        (BAD_UTF8, ["invalid_utf8"]),
        (b'{"events": [' + BAD_UTF8 + b", " + GOOD + b"]}", ["invalid_utf8", None]),
        (b"[" + BAD_UTF8 + b"]", ["invalid_utf8"]),
        (BAD_UTF8 + b"\n" + GOOD, ["invalid_utf8", None]),
    ],
)
def test_an_event_msgspec_cannot_hold_is_refused_alone(
    body: bytes, reasons: list[str | None]
) -> None:
    """msgspec raises UnicodeDecodeError / RecursionError (not DecodeError) for these: one such
    event is a rejected event, not a 500 for the whole request."""
    assert [inspect_event(bytes(e), 10**6)[1] for e in split_events(body)] == reasons


def test_declared_ndjson_refuses_a_too_deep_line_alone() -> None:
    reasons = [inspect_event(e, 10**6)[1] for e in split_events(DEEP + b"\n" + GOOD, True)]
    assert reasons == ["nested_too_deeply", None]


@pytest.mark.parametrize(
    "body", [DEEP, b'{"events": [' + DEEP + b"]}", b"[" + DEEP + b"]", DEEP + b"\n" + GOOD]
)
def test_a_body_nested_too_deeply_to_split_is_refused_whole(body: bytes) -> None:
    with pytest.raises(BodyError, match="nested too deeply") as refused:
        split_events(body)
    assert refused.value.status == 400


LONE = b'{"event_type": "click", "user_id": "u", "insert_id": "\\ud800"}'


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": [' + GOOD + b", " + LONE + b'], "options": {}}',
        b"[" + GOOD + b",\n " + LONE + b"]",
        b'{"api_key": "k", "events": [' + GOOD + b"," + LONE + b"]}",
    ],
)
def test_a_lone_surrogate_escape_sinks_only_its_event(body: bytes) -> None:
    """msgspec refuses "\\ud800" anywhere in a body; the events are still split, byte for
    byte, and only that one is refused (by the stream stage, which cannot decode it)."""
    assert [bytes(e) for e in split_events(body)] == [GOOD, LONE]


def test_a_single_event_with_a_lone_surrogate_is_one_event() -> None:
    assert [bytes(e) for e in split_events(LONE)] == [LONE]
    in_user_id = b'{"event_type": "click", "user_id": "\\ud800"}'  # a field ingest reads
    assert [inspect_event(e, 1000) for e in split_events(in_user_id)] == [(None, "malformed_json")]


@pytest.mark.parametrize(
    "body", [b"[" + LONE + b"] trailing", b'{"events": [' + LONE + b"}", b"[" + LONE + b" " + GOOD]
)
def test_malformed_bodies_with_a_lone_surrogate_are_still_400(body: bytes) -> None:
    with pytest.raises(BodyError) as refused:
        split_events(body)
    assert refused.value.status == 400
