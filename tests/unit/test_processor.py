"""One batch through the stage, with a fake producer: what is produced where, what is counted."""

from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from schemas import load_rules
from streams.dedup import SeenInsertIds
from streams.processor import MAX_FILTERED_LABELS, BatchProcessor, Destinations
from streams.weighting import Weigher

TO = Destinations(interactions="out", dead_letters="dlq", seen_changelog="seen-changelog")


class FakeOutput:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.records.append(
            {"topic": topic, "value": value, "key": key, "partition": partition, "headers": headers}
        )

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["topic"] == topic]


@pytest.fixture
def output() -> FakeOutput:
    return FakeOutput()


@pytest.fixture
def processor(output: FakeOutput) -> BatchProcessor:
    weigher = Weigher(load_rules(), ["item_id"])
    return BatchProcessor(weigher, SeenInsertIds(86400), output, TO)


def event(event_type: str, insert_id: str | None, user: str = "u1") -> bytes:
    return orjson.dumps(
        {
            "event_type": event_type,
            "user_id": user,
            "time": 1700000000000,
            "insert_id": insert_id,
            "event_properties": {"item_id": "i1"},
        }
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_is_sorted_into_outputs_and_counters(
    processor: BatchProcessor, output: FakeOutput
) -> None:
    before = {
        "in": sample("streams_events_in_total"),
        "dup": sample("streams_duplicates_total"),
        "out": sample("streams_interactions_out_total", event_type="upvote"),
        "filtered": sample("streams_events_filtered_total", event_type="page_view"),
        "bad": sample("streams_dead_letters_total", reason="undecodable_json"),
    }
    entries = processor.process(
        [
            (2, b"u1", event("upvote", "a")),
            (2, b"u1", event("Upvote", "a")),  # the same insert id: a duplicate
            (2, b"u1", event("page_view", "b")),
            (2, b"u1", b"{not json"),
            (2, b"u1", event("upvote", None)),  # no insert id: emitted, not remembered
            (0, b"u2", event("click", "c", user="u2")),
            (2, b"u1", event("click", "d")),
        ]
    )
    assert [orjson.loads(r["value"])["insert_id"] for r in output.on("out")] == [
        "a",
        None,
        "c",
        "d",
    ]
    assert [r["key"] for r in output.on("out")] == [b"u1", b"u1", b"u2", b"u1"]
    # Dedup entries are written only when asked (after the interactions' delivery), each to
    # the changelog on its event's source partition.
    assert output.on("seen-changelog") == []
    processor.write_seen(entries)
    changelog = output.on("seen-changelog")
    assert [r["partition"] for r in changelog] == [2, 0]  # one record per source partition
    assert len({r["key"] for r in changelog}) == 2  # unique keys: never compacted away
    recovered = SeenInsertIds(86400)
    assert recovered.load(r["value"] for r in changelog) == 3
    # The keys are (actor, insert id): "u" + the user id's length + ":" + user id + insert id.
    assert all(recovered.seen(i, entries.now_ms) for i in (b"u2:u1a", b"u2:u2c", b"u2:u1d"))
    (dead,) = output.on("dlq")
    assert dead["value"] == b"{not json" and dead["key"] == b"u1"
    assert dict(dead["headers"])["dead_letter_reason"] == b"undecodable_json"
    assert sample("streams_events_in_total") - before["in"] == 7
    assert sample("streams_duplicates_total") - before["dup"] == 1
    assert sample("streams_interactions_out_total", event_type="upvote") - before["out"] == 2
    filtered = sample("streams_events_filtered_total", event_type="page_view")
    assert filtered - before["filtered"] == 1
    assert sample("streams_dead_letters_total", reason="undecodable_json") - before["bad"] == 1


def test_filtered_labels_are_bounded(processor: BatchProcessor) -> None:
    names = [f"custom_{n}" for n in range(MAX_FILTERED_LABELS + 5)]
    before = sample("streams_events_filtered_total", event_type="other")
    processor.process((0, b"u", event(name, None)) for name in names)
    assert sample("streams_events_filtered_total", event_type="other") - before == 5


def test_equal_insert_ids_of_two_users_are_two_interactions(
    processor: BatchProcessor, output: FakeOutput
) -> None:
    processor.process(
        [
            (0, b"alice", event("click", "same", user="alice")),
            (1, b"bob", event("click", "same", user="bob")),
            (0, b"alice", event("click", "same", user="alice")),  # alice's retry
        ]
    )
    out = [orjson.loads(r["value"]) for r in output.on("out")]
    assert [o["user_id"] for o in out] == ["alice", "bob"]
    assert out[0]["event_id"] != out[1]["event_id"]  # Personalize's eventId: scoped the same way


def test_events_without_a_time_are_counted(processor: BatchProcessor) -> None:
    before = sample("streams_events_without_time_total")
    timeless = orjson.dumps(
        {"event_type": "click", "user_id": "u", "event_properties": {"item_id": "i"}}
    )
    processor.process([(0, b"u", timeless), (0, b"u", event("click", "t1"))])
    assert sample("streams_events_without_time_total") - before == 1
