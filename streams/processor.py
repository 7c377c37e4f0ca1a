"""One batch of raw events: weigh, drop duplicates, queue the outputs, count what happened.

Synchronous and broker-free (the producer is passed in), so unit tests drive it directly. The
agent (streams/app.py) calls `process`, then awaits the producer's `delivered()`, and only then
acknowledges the batch's offsets: at-least-once into the interactions topic.
"""

import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from streams import metrics
from streams.dedup import SeenInsertIds, encode_entries
from streams.records import interaction_encoder
from streams.weighting import DeadLetter, Filtered, Weigher

# Amplitude has many event types and the filtered counter is labelled by type: past this many
# distinct names, the rest are counted as "other" so the label stays of low cardinality.
MAX_FILTERED_LABELS = 200


@dataclass
class SeenEntries:
    """The dedup keys (actor, insert id) a batch emitted, by source partition, and when."""

    now_ms: int
    by_partition: dict[int, list[bytes]]


class Output(Protocol):
    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class Destinations:
    interactions: str
    dead_letters: str
    seen_changelog: str  # the dedup table's changelog, written on the source partition


class BatchProcessor:
    def __init__(
        self,
        weigher: Weigher,
        seen: SeenInsertIds,
        output: Output,
        to: Destinations,
        seen_output: Output | None = None,
    ) -> None:
        """`seen_output` writes the dedup entries (default: `output`)."""
        self._weigher = weigher
        self._seen = seen
        self._output = output
        self._seen_output = seen_output or output
        self._to = to
        self._filtered_labels: set[str] = set()
        self._instance = uuid.uuid4().hex[:12]  # changelog keys: unique across workers
        self._sequence = 0

    def process(self, batch: Iterable[tuple[int, bytes | None, bytes]]) -> SeenEntries:
        """Queue the outputs of (source partition, key, value) records; counts the outcomes.

        Returns the dedup entries of the emitted interactions: write them with `write_seen`
        only once Kafka acknowledged the interactions. Written earlier, a crash in between
        would leave an insert id marked as seen whose interaction was never delivered, and the
        re-read event would be dropped as a duplicate: a lost interaction.
        """
        produce, to, weigh = self._output.produce, self._to, self._weigher.weigh
        seen, remember = self._seen.seen, self._seen.remember
        encode = interaction_encoder.encode
        observe_lag = metrics.LAG.observe
        now_ms = int(time.time() * 1000)
        events_in = duplicates = untimed = 0
        out: Counter[str] = Counter()
        filtered: Counter[str] = Counter()
        dead: Counter[str] = Counter()
        entries = SeenEntries(now_ms, {})
        for partition, key, value in batch:
            events_in += 1
            outcome = weigh(value, now_ms)
            if isinstance(outcome, Filtered):
                filtered[outcome.event_type] += 1
                continue
            if isinstance(outcome, DeadLetter):
                dead[outcome.reason] += 1
                produce(
                    to.dead_letters,
                    value,
                    key,
                    headers=[
                        ("dead_letter_reason", outcome.reason.encode()),
                        ("dead_letter_detail", outcome.detail[:1000].encode()),
                        ("stage", b"streams"),
                    ],
                )
                continue
            interaction, dedup_key = outcome.interaction, outcome.dedup_key
            if dedup_key is not None:  # (actor, insert id): two users' equal ids are not one
                if seen(dedup_key, now_ms):
                    duplicates += 1
                    continue
                remember(dedup_key, now_ms)
                entries.by_partition.setdefault(partition, []).append(dedup_key)
            untimed += outcome.untimed
            produce(to.interactions, encode(interaction), interaction.key.encode())
            out[interaction.event_type] += 1
            observe_lag(max(0.0, now_ms / 1000 - interaction.timestamp_ms / 1000))
        if untimed:
            metrics.UNTIMED.inc(untimed)
        self._count(events_in, duplicates, out, filtered, dead)
        return entries

    def write_seen(self, entries: SeenEntries) -> None:
        """Queue one changelog record per source partition, on that partition.

        That is where Faust's recovery looks for it: one insert id always arrives keyed by the
        same actor, so on the same partition. Keys are unique (never compacted away); the
        changelog's retention removes records after the dedup window.
        """
        produce, topic = self._seen_output.produce, self._to.seen_changelog
        for partition, insert_ids in entries.by_partition.items():
            key = f"{entries.now_ms}-{self._instance}-{self._sequence}".encode()
            self._sequence += 1
            produce(topic, encode_entries(entries.now_ms, insert_ids), key, partition)

    def _count(
        self,
        events_in: int,
        duplicates: int,
        out: Counter[str],
        filtered: Counter[str],
        dead: Counter[str],
    ) -> None:
        metrics.EVENTS_IN.inc(events_in)
        if duplicates:
            metrics.DUPLICATES.inc(duplicates)
        for event_type, n in out.items():
            metrics.EVENTS_OUT.labels(event_type=event_type).inc(n)
        for event_type, n in filtered.items():
            metrics.FILTERED.labels(event_type=self._filtered_label(event_type)).inc(n)
        for reason, n in dead.items():
            metrics.DEAD_LETTERS.labels(reason=reason).inc(n)

    def _filtered_label(self, event_type: str) -> str:
        labels = self._filtered_labels
        if event_type not in labels:
            if len(labels) >= MAX_FILTERED_LABELS:
                return "other"
            labels.add(event_type)
        return event_type
