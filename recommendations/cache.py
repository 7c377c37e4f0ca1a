"""A small TTL + LRU cache of answers, bounded in answers, dropped per subject on invalidation.

The subject is a user id (or an item id for similar items); the variant is everything else in
the request (count, filter, context). The bound counts answers, not subjects: a caller
inventing variants for one user cannot grow it. Invalidation is per subject: a strong
interaction makes every cached answer for that user stale at once.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class AnswerCache:
    def __init__(
        self, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        # (subject, variant) -> (expires, answer), least recently used first.
        self._entries: OrderedDict[tuple[str, Hashable], tuple[float, Any]] = OrderedDict()
        # Each subject's cached variants, so invalidation finds them without a scan.
        self._variants: dict[str, set[Hashable]] = {}
        # When each subject was last invalidated, so an answer fetched before that is not kept.
        self._invalidated: OrderedDict[str, float] = OrderedDict()

    def now(self) -> float:
        return self._clock()

    def get(self, subject: str, variant: Hashable) -> Any | None:
        key = (subject, variant)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, subject: str, variant: Hashable, value: Any, fetched_at: float) -> None:
        """Keep `value` unless the subject was invalidated after it was fetched."""
        if self._ttl <= 0 or self._invalidated.get(subject, float("-inf")) >= fetched_at:
            return
        key = (subject, variant)
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        self._variants.setdefault(subject, set()).add(variant)
        while len(self._entries) > self._max:
            self._drop(next(iter(self._entries)))

    def invalidate(self, subject: str) -> bool:
        """Forget every answer for `subject`; True when there was something to forget."""
        self._invalidated[subject] = self._clock()
        self._invalidated.move_to_end(subject)
        while len(self._invalidated) > self._max:
            self._invalidated.popitem(last=False)
        variants = self._variants.pop(subject, None)
        for variant in variants or ():
            del self._entries[(subject, variant)]
        return bool(variants)

    def _drop(self, key: tuple[str, Hashable]) -> None:
        del self._entries[key]
        subject, variant = key
        variants = self._variants[subject]
        variants.discard(variant)
        if not variants:
            del self._variants[subject]

    @property
    def subjects(self) -> int:
        return len(self._variants)

    def __len__(self) -> int:
        """Answers held (the bounded quantity)."""
        return len(self._entries)
