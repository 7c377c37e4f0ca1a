"""Per-partition CSV files in the making, rolled by size and by age.

One open file per partition, so a finished file covers one contiguous offset range and the
offset to commit after storing it is simply its last offset + 1. Records that are not valid
interactions still move the range on (they were handled: the Personalize sink dead-letters
them), so a partition never stalls behind one.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from sinks.history.csv_rows import header_line


@dataclass
class FinishedFile:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    rows: int
    data: bytes

    @property
    def name(self) -> str:
        """Named by its first offset: a re-write after a crash replaces it instead of doubling."""
        return f"{self.topic}-p{self.partition:03d}-{self.first_offset:020d}.csv"


@dataclass
class _OpenFile:
    first_offset: int
    opened_at: float
    last_offset: int = -1
    rows: int = 0
    chunks: list[bytes] = field(default_factory=lambda: [header_line()])
    size: int = len(header_line())


class HistoryFiles:
    def __init__(
        self, topic: str, roll_bytes: int, roll_seconds: float, clock: Callable[[], float]
    ) -> None:
        self._topic, self._roll_bytes, self._roll_seconds = topic, roll_bytes, roll_seconds
        self._clock = clock
        self._open: dict[int, _OpenFile] = {}

    def add(self, partition: int, offset: int, row: bytes | None) -> FinishedFile | None:
        """Add a CSV row (None: a record that was handled without a row); return a full file."""
        current = self._open.get(partition)
        if current is None:
            current = self._open[partition] = _OpenFile(offset, self._clock())
        current.last_offset = offset
        if row is not None:
            current.chunks.append(row)
            current.rows += 1
            current.size += len(row)
        if current.size >= self._roll_bytes:
            return self._finish(partition)
        return None

    def due(self) -> list[FinishedFile]:
        """Files whose first record has waited the roll time."""
        now = self._clock()
        old = [p for p, f in self._open.items() if now - f.opened_at >= self._roll_seconds]
        return [self._finish(p) for p in old]

    def drain(self, partitions: list[int] | None = None) -> list[FinishedFile]:
        """Finish the open files of `partitions` (all when None): revocation and shutdown."""
        chosen = (
            list(self._open) if partitions is None else [p for p in partitions if p in self._open]
        )
        return [self._finish(p) for p in chosen]

    def _finish(self, partition: int) -> FinishedFile:
        done = self._open.pop(partition)
        return FinishedFile(
            self._topic,
            partition,
            done.first_offset,
            done.last_offset,
            done.rows,
            b"".join(done.chunks),
        )
