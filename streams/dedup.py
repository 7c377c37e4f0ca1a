"""Which insert ids were already emitted: Amplitude retries and SDK resends repeat them.

The memory is a dict (insert id -> when first emitted, ms), kept in the order entries were
remembered. Its durable copy is a Faust table's changelog topic: after each batch, one record a
source partition lists that batch's new insert ids (`encode_entries`), written on the partition
of their events. Faust's recovery reads a partition's records into the table when a worker
(re)starts or takes the partition over, and `load` folds them into the dict. One record a batch
rather than one an event: ~100x fewer changelog records. Entries older than the window count
as unseen and are dropped by `expire`; the changelog's `retention.ms` is the same window.
"""

import time
from collections.abc import Iterable

import msgspec

_entries_decoder = msgspec.json.Decoder(tuple[int, list[str]])


def encode_entries(now_ms: int, insert_ids: list[bytes]) -> bytes:
    """One changelog value: when, and the insert ids emitted then."""
    return msgspec.json.encode((now_ms, [i.decode() for i in insert_ids]))


class SeenInsertIds:
    def __init__(self, window_seconds: float) -> None:
        self._first: dict[bytes, int] = {}
        self._window_ms = int(window_seconds * 1000)

    def seen(self, insert_id: bytes, now_ms: int) -> bool:
        first = self._first.get(insert_id)
        return first is not None and now_ms - first < self._window_ms

    def remember(self, insert_id: bytes, now_ms: int) -> None:
        """Mark as emitted now (an expired entry seen again moves to the end)."""
        self._first.pop(insert_id, None)
        self._first[insert_id] = now_ms

    def load(self, values: Iterable[bytes]) -> int:
        """Fold recovered changelog values in; returns how many insert ids were read."""
        count = 0
        first = self._first
        for value in values:
            at, insert_ids = _entries_decoder.decode(value)
            for insert_id in insert_ids:
                key = insert_id.encode()
                if key not in first or first[key] > at:
                    first[key] = at
                count += 1
        return count

    def expire(self, now_ms: int | None = None) -> int:
        """Forget the entries older than the window; returns how many.

        Entries are kept in the order they were remembered (dicts keep insertion order), so
        this stops at the first one still in the window instead of scanning millions. After a
        recovery the order is only roughly by time; a stale entry left behind costs memory
        until a later pass, never correctness (`seen` checks the age itself).
        """
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        oldest_kept = now_ms - self._window_ms
        stale = []
        for key, first in self._first.items():
            if first > oldest_kept:
                break
            stale.append(key)
        for key in stale:
            del self._first[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._first)
