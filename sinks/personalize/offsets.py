"""Which offsets may be committed: per partition, the contiguous-done watermark.

Interactions finish out of order (groups linger, calls run concurrently, some are retried), so a
partition's committable offset is the lowest offset not yet delivered or dead-lettered (or the
next offset to read when all are done). Kafka's committed offset means "everything below was
handled": committing more would lose data after a crash, committing less only re-sends.
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Partition:
    outstanding: deque[int] = field(default_factory=deque)  # consumed, in offset order
    done: set[int] = field(default_factory=set)  # finished but above the watermark
    next_offset: int = -1  # one past the last consumed offset
    committed: int = -1
    done_below: int = 0  # finished below the watermark since the last commit


class OffsetTracker:
    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}

    def add(self, partition: int, offset: int) -> None:
        """A consumed record, in offset order within its partition."""
        state = self._partitions.get(partition)
        if state is None:
            state = self._partitions[partition] = _Partition()
        state.outstanding.append(offset)
        state.next_offset = offset + 1

    def done(self, partition: int, offset: int) -> None:
        """The record was delivered or dead-lettered (or is known to be unusable)."""
        state = self._partitions.get(partition)
        if state is None:
            return  # the partition was revoked meanwhile: its new owner re-reads it
        if state.outstanding and state.outstanding[0] == offset:
            state.outstanding.popleft()
            state.done_below += 1
            while state.outstanding and state.outstanding[0] in state.done:
                state.done.remove(state.outstanding.popleft())
                state.done_below += 1
        else:
            state.done.add(offset)

    def watermark(self, partition: int) -> int:
        """The offset to commit: everything below it is done. -1 when nothing was consumed."""
        state = self._partitions[partition]
        return state.outstanding[0] if state.outstanding else state.next_offset

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
                self._partitions[partition].done_below = 0

    def uncommit(self, partitions: list[int]) -> None:
        """A commit was refused: report these partitions as committable again."""
        for partition in partitions:
            if partition in self._partitions:
                self._partitions[partition].committed = -1

    def pending(self, partitions: list[int] | None = None) -> int:
        """Records consumed and not done yet (all partitions, or the ones given)."""
        chosen = self._partitions if partitions is None else partitions
        return sum(
            len(self._partitions[p].outstanding) - len(self._partitions[p].done)
            for p in chosen
            if p in self._partitions
        )

    def done_below_watermark(self) -> int:
        """Records finished below the watermarks since their last commit (a commit clears it)."""
        return sum(s.done_below for s in self._partitions.values())

    def done_above_watermark(self) -> dict[int, int]:
        """Per partition, records finished but not committable: what a crash would re-send."""
        return {p: len(s.done) for p, s in self._partitions.items() if s.done}

    def spans(self) -> dict[int, int]:
        """Per partition, offsets read above the watermark: what a crash now would re-read."""
        return {
            p: (s.next_offset - s.outstanding[0]) if s.outstanding else 0
            for p, s in self._partitions.items()
        }

    def forget(self, partitions: list[int]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)
