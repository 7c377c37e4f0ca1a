"""Which insert ids were already emitted: Amplitude retries and SDK resends repeat them.

The memory is, per source partition, a dict (insert id -> when first emitted, ms), kept in the
order entries were remembered. One insert id always arrives keyed by the same actor, so on the
same partition: a worker needs the ids of the partitions it holds only, and drops a partition's
when it loses it (`drop`). Its durable copy is a Faust table's changelog topic: after each
batch, records on each source partition list that batch's new insert ids (`encode_entries`,
as few records as fit in Kafka's message size; the key names the partition, `changelog_key`).
Faust's recovery reads a partition's records into the table when a worker (re)starts or takes
the partition over, and `load` folds them into the dicts, skipping entries already past the
window, so the memory after a recovery holds what it held before. One record a batch rather
than one an event: ~100x fewer changelog records. Entries older than the window count as
unseen and are dropped by `expire`; the changelog's `retention.ms` is the same window.
"""

import logging
import time
from collections.abc import Iterable, Iterator

import msgspec

log = logging.getLogger(__name__)

_entries_decoder = msgspec.json.Decoder(tuple[int, list[str]])
_encode = msgspec.json.encode
UNKNOWN_PARTITION = -1  # records written before keys named their partition: kept until expiry


def encode_entries(now_ms: int, insert_ids: list[bytes]) -> bytes:
    """One changelog value: when, and the insert ids emitted then."""
    return _encode((now_ms, [i.decode() for i in insert_ids]))


def chunk_entries(now_ms: int, insert_ids: list[bytes], max_bytes: int) -> Iterator[bytes]:
    """`encode_entries` split into values of at most `max_bytes` each (an id is <= 256 chars)."""
    chunk: list[bytes] = []
    size = len(_encode((now_ms, [])))
    for insert_id in insert_ids:
        grows = len(_encode(insert_id.decode())) + 1
        if chunk and size + grows > max_bytes:
            yield encode_entries(now_ms, chunk)
            chunk, size = [], len(_encode((now_ms, [])))
        chunk.append(insert_id)
        size += grows
    if chunk:
        yield encode_entries(now_ms, chunk)


def changelog_key(partition: int, unique: str) -> bytes:
    return f"{partition}/{unique}".encode()


def _partition_of(key: bytes) -> int:
    head, slash, _ = key.partition(b"/")
    return int(head) if slash and head.isdigit() else UNKNOWN_PARTITION


class SeenInsertIds:
    def __init__(self, window_seconds: float) -> None:
        self._by_partition: dict[int, dict[bytes, int]] = {}
        self._window_ms = int(window_seconds * 1000)

    def seen(self, partition: int, insert_id: bytes, now_ms: int) -> bool:
        by_partition = self._by_partition
        ids = by_partition.get(partition)
        first = None if ids is None else ids.get(insert_id)
        if first is None:
            legacy = by_partition.get(UNKNOWN_PARTITION)
            if legacy is None:
                return False
            first = legacy.get(insert_id)
            if first is None:
                return False
        return now_ms - first < self._window_ms

    def remember(self, partition: int, insert_id: bytes, now_ms: int) -> None:
        """Mark as emitted now (an expired entry seen again moves to the end)."""
        ids = self._by_partition.get(partition)
        if ids is None:
            ids = self._by_partition[partition] = {}
        ids.pop(insert_id, None)
        ids[insert_id] = now_ms

    def load(self, records: Iterable[tuple[bytes, bytes]], now_ms: int | None = None) -> int:
        """Fold recovered changelog (key, value) records in, skipping entries already past the
        window and records that cannot be read (counted in the log, never fatal: a lost entry
        costs at most a duplicate). Returns how many insert ids were loaded."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        oldest_kept = now_ms - self._window_ms
        count = unreadable = 0
        for key, value in records:
            try:
                at, insert_ids = _entries_decoder.decode(value)
                partition = _partition_of(key)
            except (msgspec.DecodeError, ValueError, TypeError):
                unreadable += 1
                continue
            if at <= oldest_kept:
                continue
            ids = self._by_partition.get(partition)
            if ids is None:
                ids = self._by_partition[partition] = {}
            for insert_id in insert_ids:
                try:
                    id_key = insert_id.encode()
                except UnicodeEncodeError:
                    continue  # never written by the stage (it checks ids encode)
                first = ids.get(id_key)
                if first is None or first > at:
                    ids[id_key] = at
                count += 1
        if unreadable:
            log.warning("dedup changelog records skipped: unreadable", extra={"count": unreadable})
        return count

    def drop(self, partitions: Iterable[int]) -> int:
        """Forget the partitions this worker no longer holds; returns how many ids went."""
        dropped = 0
        for partition in partitions:
            dropped += len(self._by_partition.pop(partition, {}))
        return dropped

    def partitions(self) -> set[int]:
        return set(self._by_partition) - {UNKNOWN_PARTITION}

    def expire(self, now_ms: int | None = None) -> int:
        """Forget the entries older than the window; returns how many.

        Entries are kept in the order they were remembered (dicts keep insertion order), so
        this stops at the first one still in the window instead of scanning millions. After a
        recovery the order is only roughly by time; a stale entry left behind costs memory
        until a later pass, never correctness (`seen` checks the age itself).
        """
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        oldest_kept = now_ms - self._window_ms
        expired = 0
        for ids in self._by_partition.values():
            stale = []
            for key, first in ids.items():
                if first > oldest_kept:
                    break
                stale.append(key)
            for key in stale:
                del ids[key]
            expired += len(stale)
        return expired

    def __contains__(self, partition: int) -> bool:
        return partition in self._by_partition

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._by_partition.values())
