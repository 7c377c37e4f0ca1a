"""The insert-id memory: a duplicate within the window, forgotten after it."""

from streams.dedup import SeenInsertIds

HOUR_MS = 3_600_000


def test_seen_within_the_window_only() -> None:
    seen = SeenInsertIds({}, window_seconds=3600)
    assert not seen.seen(b"a", 0)
    assert seen.remember(b"a", 0) == b"0"
    assert seen.seen(b"a", HOUR_MS - 1)
    assert not seen.seen(b"a", HOUR_MS)  # older than the window: a new event
    assert not seen.seen(b"b", 1)


def test_expire_forgets_old_entries() -> None:
    store: dict[bytes, bytes] = {}
    seen = SeenInsertIds(store, window_seconds=3600)
    seen.remember(b"old", 0)
    seen.remember(b"new", HOUR_MS)
    assert seen.expire(HOUR_MS + 1) == 1
    assert store == {b"new": str(HOUR_MS).encode()}


def test_values_restored_from_the_changelog_are_understood() -> None:
    seen = SeenInsertIds({b"a": b"1000"}, window_seconds=10)  # as Faust's recovery writes it
    assert seen.seen(b"a", 10_999)
    assert not seen.seen(b"a", 11_000)


def test_an_expired_id_seen_again_is_remembered_afresh() -> None:
    store: dict[bytes, bytes] = {}
    seen = SeenInsertIds(store, window_seconds=3600)
    seen.remember(b"a", 0)
    seen.remember(b"b", 10)
    seen.remember(b"a", HOUR_MS + 5)  # past its window: a new event, remembered at the end
    assert list(store) == [b"b", b"a"]
    assert seen.expire(HOUR_MS + 10) == 1
    assert store == {b"a": str(HOUR_MS + 5).encode()}
