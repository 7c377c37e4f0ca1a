"""Group interactions into PutEvents calls: one (user, session) per call, at most 10 events.

A group is sent when it holds 10 events (`add` returns it), when its oldest event has waited the
linger (`due`), or when its partition is revoked or the sink stops (`drain`). `due` can be
limited to the calls that can go now: the others keep lingering, and taking their sessions'
events, while calls wait for rate-limit tokens (quota-aware batching, dispatch.py). Groups are also
keyed by partition, so revoking a partition flushes exactly its records; with the topic keyed by
user, a user's session lives on one partition anyway. The clock is injected (tests use a fake).
"""

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_EVENTS_PER_CALL = 10  # PutEvents eventList limit.


@dataclass(slots=True)
class Pending:
    """One interaction waiting for delivery: where it came from, and its PutEvents event."""

    partition: int
    offset: int
    event: dict[str, Any]
    value: bytes  # the record as consumed, for a dead letter
    epoch: int = (
        0  # the partition's assignment it was read in (late results of older ones: ignored)
    )


@dataclass(slots=True)
class Call:
    """The events of one PutEvents call, all of one user id (or none) and one session id."""

    partition: int
    user_id: str | None
    session_id: str
    items: list[Pending] = field(default_factory=list)
    started: float = 0.0  # when its first event arrived (the linger counts from here)
    attempts: int = 0  # the sink's own re-sends after botocore gave up


GroupKey = tuple[int, str | None, str]


class Batcher:
    def __init__(self, linger_seconds: float, clock: Callable[[], float]) -> None:
        self._linger = linger_seconds
        self._clock = clock
        # Per partition, open groups in creation order: the first is the oldest.
        self._groups: dict[int, dict[GroupKey, Call]] = {}
        self.events = 0

    def add(self, user_id: str | None, session_id: str, item: Pending) -> Call | None:
        """Add one interaction; return its group when that reached 10 events."""
        groups = self._groups.setdefault(item.partition, {})
        key = (item.partition, user_id, session_id)
        call = groups.get(key)
        if call is None:
            call = groups[key] = Call(item.partition, user_id, session_id, started=self._clock())
        call.items.append(item)
        self.events += 1
        if len(call.items) == MAX_EVENTS_PER_CALL:
            del groups[key]
            self.events -= MAX_EVENTS_PER_CALL
            return call
        return None

    def due(self, limit: int | None = None) -> list[Call]:
        """Groups whose oldest event has waited the linger, oldest first within a partition;
        with a `limit`, at most that many, the oldest of all partitions first."""
        deadline = self._clock() - self._linger
        ready: list[Call] = []
        if limit is None:
            for groups in self._groups.values():
                while groups:
                    key = next(iter(groups))
                    if groups[key].started > deadline:
                        break
                    ready.append(groups.pop(key))
        else:
            heads = [
                (first.started, partition)
                for partition, groups in self._groups.items()
                if groups and (first := next(iter(groups.values()))).started <= deadline
            ]
            heapq.heapify(heads)
            while heads and len(ready) < limit:
                partition = heapq.heappop(heads)[1]
                groups = self._groups[partition]
                ready.append(groups.pop(next(iter(groups))))
                if groups and (first := next(iter(groups.values()))).started <= deadline:
                    heapq.heappush(heads, (first.started, partition))
        self.events -= sum(len(call.items) for call in ready)
        return ready

    def overdue(self) -> bool:
        """A group has waited the linger and is still here (waiting for room to be sent)."""
        deadline = self._clock() - self._linger
        return any(
            groups and next(iter(groups.values())).started <= deadline
            for groups in self._groups.values()
        )

    def drain(self, partitions: Iterable[int] | None = None) -> list[Call]:
        """Every open group (of `partitions` only, when given): revocation and shutdown."""
        chosen = list(self._groups) if partitions is None else list(partitions)
        ready: list[Call] = []
        for partition in chosen:
            ready.extend(self._groups.pop(partition, {}).values())
        self.events -= sum(len(call.items) for call in ready)
        return ready

    def pop_oldest(self, partition: int) -> Call | None:
        """The partition's oldest group: it holds the partition's lowest undelivered offset."""
        groups = self._groups.get(partition)
        if not groups:
            return None
        call = groups.pop(next(iter(groups)))
        self.events -= len(call.items)
        return call

    def oldest_offset(self, partition: int) -> int | None:
        groups = self._groups.get(partition)
        return next(iter(groups.values())).items[0].offset if groups else None
