"""The insert-id memory: a duplicate within the window, forgotten after it, recovered intact."""

from streams.dedup import SeenInsertIds, encode_entries

HOUR_MS = 3_600_000


def test_seen_within_the_window_only() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    assert not seen.seen(b"a", 0)
    seen.remember(b"a", 0)
    assert seen.seen(b"a", HOUR_MS - 1)
    assert not seen.seen(b"a", HOUR_MS)  # older than the window: a new event
    assert not seen.seen(b"b", 1)


def test_expire_forgets_old_entries() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.remember(b"old", 0)
    seen.remember(b"new", HOUR_MS)
    assert seen.expire(HOUR_MS + 1) == 1
    assert len(seen) == 1 and seen.seen(b"new", HOUR_MS + 1)


def test_an_expired_id_seen_again_is_remembered_afresh() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.remember(b"a", 0)
    seen.remember(b"b", 10)
    seen.remember(b"a", HOUR_MS + 5)  # past its window: a new event, remembered at the end
    assert seen.expire(HOUR_MS + 10) == 1  # "b" only: the scan stops at "a", still fresh
    assert seen.seen(b"a", HOUR_MS + 10) and not seen.seen(b"b", HOUR_MS + 10)


def test_changelog_records_are_recovered() -> None:
    values = [encode_entries(1000, [b"a", b"b\n\xc3\xa9"]), encode_entries(500, [b"a"])]
    seen = SeenInsertIds(window_seconds=10)
    assert seen.load(values) == 3
    assert seen.seen(b"b\n\xc3\xa9", 10_999)
    assert seen.seen(b"a", 10_499) and not seen.seen(b"a", 10_500)  # the earliest time counts
