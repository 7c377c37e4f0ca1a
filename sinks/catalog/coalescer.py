"""Updates of one id within a window become one record: the newest, sent once the window ends.

A user (item) record is the whole latest state (schemas/catalog.py), so an older one that a
newer one replaces need not be sent: its offset is done when the newer one is. The window
starts at an id's first unsent update; updates arriving while its record waits for a call or a
retry join it too (the retry sends the newest state). Keyed by (partition, id): the topics are
keyed by the id, so one id's updates are in one partition and in offset order.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sinks.catalog.kinds import Record, record_id


@dataclass(slots=True, eq=False)
class Entry:
    partition: int
    record: Record
    value: bytes  # the newest record's bytes: what is dead-lettered if Personalize refuses it
    epoch: int  # the partition's assignment it was read in
    due_at: float
    offsets: list[int] = field(default_factory=list)  # every offset it stands for


class Coalescer:
    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._entries: dict[tuple[int, str], Entry] = {}  # every entry not done
        self._waiting: OrderedDict[tuple[int, str], Entry] = OrderedDict()  # not in a call

    def add(
        self, partition: int, offset: int, key: str, record: Record, value: bytes, epoch: int
    ) -> bool:
        """Hold the update; True when it replaced an unsent one of the same id."""
        entry = self._entries.get((partition, key))
        if entry is None:
            entry = Entry(partition, record, value, epoch, self._clock() + self._window)
            self._entries[(partition, key)] = entry
            self._waiting[(partition, key)] = entry
            entry.offsets.append(offset)
            return False
        entry.record, entry.value = record, value
        entry.offsets.append(offset)
        return True

    def due(self, limit: int) -> list[Entry]:
        """Up to `limit` entries whose window ended, oldest first; they are now in a call."""
        now = self._clock()
        taken: list[Entry] = []
        while self._waiting and len(taken) < limit:
            key, entry = next(iter(self._waiting.items()))
            if entry.due_at > now:
                break
            del self._waiting[key]
            taken.append(entry)
        return taken

    def next_due(self) -> float | None:
        """When the oldest waiting entry is due (None: none waits)."""
        return next(iter(self._waiting.values())).due_at if self._waiting else None

    def finished(self, entry: Entry) -> None:
        """Delivered or dead-lettered: the id's next update starts a new window."""
        key = (entry.partition, record_id(entry.record))
        if self._entries.get(key) is entry:
            del self._entries[key]

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions: their records are the new owner's to read again."""
        for key in [k for k in self._entries if k[0] in partitions]:
            del self._entries[key]
            self._waiting.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
