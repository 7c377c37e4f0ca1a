"""Which offsets may be committed: per partition, the lowest offset not done yet.

A record is done once it was delivered, dead-lettered, or superseded by a newer record of the
same id that was (coalescer.py). Records finish out of order (windows, retries), and Kafka's
committed offset means "everything below was handled": committing more would lose updates after
a crash, committing less only re-sends a record whole, which PutUsers/PutItems take again.
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Partition:
    outstanding: deque[int] = field(default_factory=deque)  # consumed, in offset order
    done: set[int] = field(default_factory=set)  # finished but above the watermark
    next_offset: int = 0  # one past the last consumed offset
    committed: int = -1


class Watermarks:
    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}

    def add(self, partition: int, offset: int) -> None:
        """A consumed record, in offset order within its partition."""
        state = self._partitions.setdefault(partition, _Partition())
        state.outstanding.append(offset)
        state.next_offset = offset + 1

    def done(self, partition: int, offset: int) -> None:
        state = self._partitions.get(partition)
        if state is None:
            return  # revoked meanwhile: the new owner re-reads it
        state.done.add(offset)
        while state.outstanding and state.outstanding[0] in state.done:
            state.done.remove(state.outstanding.popleft())

    def committable(self) -> dict[int, int]:
        """Partitions whose watermark moved past their last commit, with that watermark."""
        moved = {}
        for partition, state in self._partitions.items():
            mark = state.outstanding[0] if state.outstanding else state.next_offset
            if mark > state.committed:
                moved[partition] = mark
        return moved

    def committed(self, offsets: dict[int, int]) -> None:
        for partition, offset in offsets.items():
            if partition in self._partitions:
                self._partitions[partition].committed = offset

    def pending(self) -> int:
        """Records consumed and not done yet."""
        return sum(len(s.outstanding) - len(s.done) for s in self._partitions.values())

    def forget(self, partitions: list[int]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)
