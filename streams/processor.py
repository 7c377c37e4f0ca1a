"""One batch of raw events: weigh, drop duplicates, queue the outputs, count what happened.

Synchronous and broker-free (the producer is passed in), so unit tests drive it directly. The
agent (streams/app.py) calls `process`, then awaits the producer's `delivered()`, and only then
acknowledges the batch's offsets: at-least-once into the interactions topic.

Every record ends as exactly one of: an interaction, a duplicate, a filtered type, an Amplitude
user record (no interaction: `schemas.check_user_record`), or a dead letter. Besides, with
`catalog` given, every usable record's user and item fields feed streams/catalog_updates.py,
which writes to the users and items topics on changes only. Whatever one record makes the
stage raise (decoding, weighing, encoding, the dedup key) dead-letters that record as
`unexpected_error: <type>: <message>` and the batch goes on; no output exceeds Kafka's
message size (core/record_size.py). Only a failure of Kafka itself (`DeliveryFailed`:
librdkafka's queue full, a dead letter it refuses) fails the batch, which is then read again:
no record can stop the stage.
"""

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import KafkaException

from core.record_size import RECORD_OVERHEAD_BYTES, fit_dead_letter, record_size
from schemas import interaction_encoder, limit_problem
from streams import metrics
from streams.catalog_updates import CatalogUpdates
from streams.dedup import SeenInsertIds, changelog_key, chunk_entries
from streams.producer import DeliveryFailed
from streams.user_records import is_user_record
from streams.weighting import DeadLetter, Filtered, Weigher

log = logging.getLogger(__name__)

# Filtered events are outside the rules, so their event_type is anything a sender chose: the
# counter's label is one value for all of them (a label never takes unbounded input).
FILTERED_LABEL = "other"
_DETAIL_CHARS = 1000
_DEFAULT_MAX_BYTES = 1_000_000


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
        max_record_bytes: int = _DEFAULT_MAX_BYTES,
        catalog: CatalogUpdates | None = None,
    ) -> None:
        """`max_record_bytes`: Kafka's message size (KAFKA_MESSAGE_MAX_BYTES), no output is
        larger. `catalog`: None when the rules map no user or item field (nothing is read)."""
        self._catalog = catalog
        self._weigher = weigher
        self._seen = seen
        self._output = output
        self._to = to
        self._max_bytes = max_record_bytes
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
        max_bytes = self._max_bytes
        catalog = self._catalog
        now_ms = int(time.time() * 1000)
        events_in = duplicates = filtered = untimed = user_records = 0
        out: Counter[str] = Counter()
        dead: Counter[str] = Counter()
        entries = SeenEntries(now_ms, {})
        for partition, key, value in batch:
            events_in += 1
            try:
                outcome = weigh(value, now_ms)
                if isinstance(outcome, Filtered):
                    filtered += 1
                    if catalog is not None:
                        catalog.observe(partition, value, now_ms)
                    continue
                if isinstance(outcome, DeadLetter):
                    # Amplitude's user records have no event type: refused by the weigher,
                    # recognised only here, so events pay nothing for them.
                    if outcome.reason == "schema_invalid" and is_user_record(value):
                        user_records += 1
                        if catalog is not None:
                            catalog.observe(partition, value, now_ms)
                        continue
                    self._dead_letter(key, value, outcome.reason, outcome.detail)
                    dead[outcome.reason] += 1
                    continue
                interaction, dedup_key = outcome.interaction, outcome.dedup_key
                problem = limit_problem(interaction)
                if problem is not None:
                    reason = "invalid_time" if problem.startswith("timestamp_ms") else "id_limits"
                    self._dead_letter(key, value, reason, problem)
                    dead[reason] += 1
                    continue
                # Encoded before the dedup memory is touched: encoding may raise, and the
                # record is then a dead letter, not remembered as emitted.
                record, record_key = encode(interaction), interaction.key.encode()
                if len(record) + len(record_key) + RECORD_OVERHEAD_BYTES > max_bytes:
                    detail = f"interaction of {len(record)} bytes > {max_bytes}"
                    self._dead_letter(key, value, "record_too_large", detail)
                    dead["record_too_large"] += 1
                    continue
                # (actor, insert id): two users' equal ids are not one
                if dedup_key is not None and seen(partition, dedup_key, now_ms):
                    duplicates += 1
                    continue
                produce(to.interactions, record, record_key)
            except DeliveryFailed:
                raise  # Kafka's failure, not the record's: the batch is read again
            except Exception as exc:
                self._unexpected(key, value, exc)
                dead["unexpected_error"] += 1
                continue
            if dedup_key is not None:
                remember(partition, dedup_key, now_ms)
                entries.by_partition.setdefault(partition, []).append(dedup_key)
            untimed += outcome.untimed
            out[interaction.event_type] += 1
            observe_lag(max(0.0, now_ms / 1000 - interaction.timestamp_ms / 1000))
            if catalog is not None:
                catalog.observe(partition, value, interaction.timestamp_ms)
        if untimed:
            metrics.UNTIMED.inc(untimed)
        if user_records:
            metrics.USER_RECORDS_IN.inc(user_records)
        if catalog is not None:
            catalog.finish_batch()
        self._count(events_in, duplicates, out, filtered, dead)
        return entries

    def _unexpected(self, key: bytes | None, value: bytes, exc: Exception) -> None:
        """A record made the stage raise: dead-letter it, log it once (no data: the type)."""
        name = type(exc).__name__
        metrics.UNEXPECTED_ERRORS.labels(error=_error_label(exc)).inc()
        log.warning(
            "record dead-lettered: unexpected error",
            extra={"error_type": name, "value_bytes": len(value or b"")},
        )
        try:
            detail = str(exc)[:_DETAIL_CHARS]
        except Exception:  # a message that cannot even be rendered
            detail = "(message not printable)"
        self._dead_letter(key, value, "unexpected_error", f"unexpected_error: {name}: {detail}")

    def _dead_letter(self, key: bytes | None, value: bytes, reason: str, detail: str) -> None:
        """Queue a dead letter that fits in Kafka's message size; raise DeliveryFailed if Kafka
        refuses it anyway (the batch is then read again rather than losing the record)."""
        headers = [
            ("dead_letter_reason", reason.encode()),
            ("dead_letter_detail", detail[:_DETAIL_CHARS].encode("utf-8", "replace")),
            ("stage", b"streams"),
        ]
        key, value_out, fitted = fit_dead_letter(key, value, headers, self._max_bytes)
        try:
            self._output.produce(self._to.dead_letters, value_out, key, headers=fitted)
        except KafkaException as exc:
            raise DeliveryFailed(f"dead letter refused by librdkafka: {exc}") from exc

    def write_seen(self, entries: SeenEntries) -> None:
        """Queue the changelog records of a batch's insert ids, on their source partitions.

        That is where Faust's recovery looks for them: one insert id always arrives keyed by
        the same actor, so on the same partition. As few records as fit in Kafka's message
        size; keys are unique (never compacted away) and name the partition; the changelog's
        retention removes records after the dedup window.
        """
        produce, topic = self._output.produce, self._to.seen_changelog
        room = self._max_bytes - record_size(changelog_key(0, "x" * 64), b"")
        for partition, insert_ids in entries.by_partition.items():
            for value in chunk_entries(entries.now_ms, insert_ids, room):
                unique = f"{entries.now_ms}-{self._instance}-{self._sequence}"
                self._sequence += 1
                produce(topic, value, changelog_key(partition, unique), partition)

    def _count(
        self,
        events_in: int,
        duplicates: int,
        out: Counter[str],
        filtered: int,
        dead: Counter[str],
    ) -> None:
        metrics.EVENTS_IN.inc(events_in)
        if duplicates:
            metrics.DUPLICATES.inc(duplicates)
        for event_type, n in out.items():  # a rule's canonical type: bounded by the rules
            metrics.EVENTS_OUT.labels(event_type=event_type).inc(n)
        if filtered:
            metrics.FILTERED.labels(event_type=FILTERED_LABEL).inc(filtered)
        for reason, n in dead.items():  # the stage's own reason names, never input
            metrics.DEAD_LETTERS.labels(reason=reason).inc(n)


def _error_label(exc: Exception) -> str:
    """A bounded label: builtin exception types by name, anything else as "other"."""
    name = type(exc).__name__
    return name if type(exc).__module__ == "builtins" else "other"
