"""The insert-id memory: a duplicate within the window, forgotten after it, recovered intact."""

from streams.dedup import SeenInsertIds, changelog_key, chunk_entries, encode_entries

HOUR_MS = 3_600_000


def test_seen_within_the_window_only() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    assert not seen.seen(0, b"a", 0)
    seen.remember(0, b"a", 0)
    assert seen.seen(0, b"a", HOUR_MS - 1)
    assert not seen.seen(0, b"a", HOUR_MS)  # older than the window: a new event
    assert not seen.seen(0, b"b", 1)


def test_expire_forgets_old_entries() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.remember(0, b"old", 0)
    seen.remember(0, b"new", HOUR_MS)
    assert seen.expire(HOUR_MS + 1) == 1
    assert len(seen) == 1 and seen.seen(0, b"new", HOUR_MS + 1)


def test_an_expired_id_seen_again_is_remembered_afresh() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.remember(0, b"a", 0)
    seen.remember(0, b"b", 10)
    seen.remember(0, b"a", HOUR_MS + 5)  # past its window: a new event, remembered at the end
    assert seen.expire(HOUR_MS + 10) == 1  # "b" only: the scan stops at "a", still fresh
    assert seen.seen(0, b"a", HOUR_MS + 10) and not seen.seen(0, b"b", HOUR_MS + 10)


def test_changelog_records_are_recovered() -> None:
    values = [encode_entries(1000, [b"a", b"b\n\xc3\xa9"]), encode_entries(500, [b"a"])]
    seen = SeenInsertIds(window_seconds=10)
    assert seen.load([(b"0/k1", values[0]), (b"0/k2", values[1])], now_ms=1000) == 3
    assert seen.seen(0, b"b\n\xc3\xa9", 10_999)
    assert seen.seen(0, b"a", 10_499) and not seen.seen(0, b"a", 10_500)  # the earliest time counts


def test_a_recovery_loads_only_entries_within_the_window() -> None:
    """The memory after a recovery holds what it held before: expired ids stay out."""
    seen = SeenInsertIds(window_seconds=3600)
    records = [
        (changelog_key(1, "old"), encode_entries(0, [b"old-1", b"old-2"])),
        (changelog_key(1, "new"), encode_entries(HOUR_MS, [b"new"])),
    ]
    assert seen.load(records, now_ms=HOUR_MS + 10) == 1
    assert len(seen) == 1 and seen.seen(1, b"new", HOUR_MS + 10)


def test_unreadable_changelog_records_are_skipped_not_fatal() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    records = [
        (b"1/a", b"{not json"),
        (b"1/b", b"[1, 2]"),  # the wrong shape
        (b"1/c", encode_entries(10, [b"kept"])),
    ]
    assert seen.load(records, now_ms=20) == 1
    assert seen.seen(1, b"kept", 20)


def test_revoked_partitions_ids_are_dropped() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.remember(0, b"a", 0)
    seen.remember(1, b"b", 0)
    seen.remember(1, b"c", 0)
    assert seen.drop(seen.partitions() - {0}) == 2
    assert len(seen) == 1 and seen.seen(0, b"a", 1) and not seen.seen(1, b"b", 1)


def test_records_written_before_keys_named_a_partition_still_count() -> None:
    seen = SeenInsertIds(window_seconds=3600)
    seen.load([(b"1700000000000-abc-1", encode_entries(10, [b"legacy"]))], now_ms=20)
    assert seen.seen(4, b"legacy", 20)
    seen.drop(seen.partitions())  # held until it expires, whichever partitions go
    assert seen.seen(4, b"legacy", 20)


def test_changelog_values_are_split_to_fit_the_message_size() -> None:
    ids = [f"{n:0>200}".encode() for n in range(100)]
    values = list(chunk_entries(5, ids, 2000))
    assert len(values) > 1 and all(len(v) <= 2000 for v in values)
    seen = SeenInsertIds(window_seconds=3600)
    assert seen.load([(changelog_key(0, str(n)), v) for n, v in enumerate(values)], 6) == 100
