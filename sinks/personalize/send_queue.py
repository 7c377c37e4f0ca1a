"""Calls ready to send, one queue per partition, taken round-robin across partitions.

Within a partition calls leave in the order their groups were opened, which is the order of
their first offsets: the call holding the partition's committed offset back is always at the
front, so commits keep moving on every partition instead of one partition at a time.
"""

from collections import deque
from collections.abc import Iterable

from sinks.personalize.batcher import Call


class SendQueue:
    def __init__(self) -> None:
        self._queues: dict[int, deque[Call]] = {}
        self._turns: deque[int] = deque()  # partitions with calls waiting, in turn order
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, call: Call) -> None:
        self._queue(call.partition).append(call)
        self._size += 1

    def extend(self, calls: Iterable[Call]) -> None:
        for call in calls:
            self.append(call)

    def push_front(self, call: Call) -> None:
        """Ahead of its partition's other calls (retries, split halves, a commit holder)."""
        self._queue(call.partition).appendleft(call)
        self._size += 1

    def pop(self) -> Call:
        """The next call, from the partition whose turn it is."""
        partition = self._turns.popleft()
        queue = self._queues[partition]
        call = queue.popleft()
        self._size -= 1
        if queue:
            self._turns.append(partition)
        else:
            del self._queues[partition]
        return call

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the calls of revoked partitions."""
        for partition in set(partitions) & set(self._queues):
            self._size -= len(self._queues.pop(partition))
            self._turns.remove(partition)

    def _queue(self, partition: int) -> deque[Call]:
        queue = self._queues.get(partition)
        if queue is None:
            queue = self._queues[partition] = deque()
            self._turns.append(partition)
        return queue
