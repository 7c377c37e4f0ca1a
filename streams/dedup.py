"""Which insert ids were already emitted: Amplitude retries and SDK resends repeat them.

The memory is a Faust table's store (insert id -> when first emitted, ms as ASCII bytes), so its
changelog topic restores it on a restarted or newly assigned worker. Entries older than the
window count as unseen and are dropped by `expire`; the changelog's `retention.ms` is the same
window, so the log forgets them too.
"""

import time
from collections.abc import MutableMapping


class SeenInsertIds:
    def __init__(self, store: MutableMapping[bytes, bytes], window_seconds: float) -> None:
        self._store = store
        self._window_ms = int(window_seconds * 1000)

    def seen(self, insert_id: bytes, now_ms: int) -> bool:
        first = self._store.get(insert_id)
        return first is not None and now_ms - int(first) < self._window_ms

    def remember(self, insert_id: bytes, now_ms: int) -> bytes:
        """Mark as emitted now; returns the stored value (to write to the changelog too)."""
        value = str(now_ms).encode()
        self._store.pop(insert_id, None)  # an expired entry seen again moves to the end
        self._store[insert_id] = value
        return value

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
        for key, first in self._store.items():
            if int(first) > oldest_kept:
                break
            stale.append(key)
        for key in stale:
            del self._store[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._store)
