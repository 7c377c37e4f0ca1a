"""A small TTL + LRU cache of answers, grouped by subject so one user's entries drop together.

The subject is a user id (or an item id for similar items); the variant is everything else in
the request (count, filter, context). Invalidation is per subject: a strong interaction makes
every cached answer for that user stale at once.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class AnswerCache:
    def __init__(
        self, ttl_seconds: float, max_subjects: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_subjects
        self._clock = clock
        self._subjects: OrderedDict[str, dict[Hashable, tuple[float, Any]]] = OrderedDict()
        # When each subject was last invalidated, so an answer fetched before that is not kept.
        self._invalidated: OrderedDict[str, float] = OrderedDict()

    def now(self) -> float:
        return self._clock()

    def get(self, subject: str, variant: Hashable) -> Any | None:
        entries = self._subjects.get(subject)
        if entries is None or variant not in entries:
            return None
        expires, value = entries[variant]
        if expires <= self._clock():
            del entries[variant]
            return None
        self._subjects.move_to_end(subject)
        return value

    def put(self, subject: str, variant: Hashable, value: Any, fetched_at: float) -> None:
        """Keep `value` unless the subject was invalidated after it was fetched."""
        if self._ttl <= 0 or self._invalidated.get(subject, float("-inf")) >= fetched_at:
            return
        self._subjects.setdefault(subject, {})[variant] = (self._clock() + self._ttl, value)
        self._subjects.move_to_end(subject)
        while len(self._subjects) > self._max:
            self._subjects.popitem(last=False)

    def invalidate(self, subject: str) -> bool:
        """Forget every answer for `subject`; True when there was something to forget."""
        self._invalidated[subject] = self._clock()
        self._invalidated.move_to_end(subject)
        while len(self._invalidated) > self._max:
            self._invalidated.popitem(last=False)
        return self._subjects.pop(subject, None) is not None

    def __len__(self) -> int:
        return len(self._subjects)
