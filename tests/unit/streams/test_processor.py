"""One batch through the stage, with a fake producer: what is produced where, what is counted."""

from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import REGISTRY

from core.record_size import record_size
from schemas import load_rules
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor, Destinations
from streams.producer import DeliveryFailed
from streams.weighting import Weigher
from tests.fixtures.recording_producer import RecordingProducer

TO = Destinations(interactions="out", dead_letters="dlq", seen_changelog="seen-changelog")


@pytest.fixture
def output() -> RecordingProducer:
    return RecordingProducer()


@pytest.fixture
def processor(output: RecordingProducer) -> BatchProcessor:
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
    processor: BatchProcessor, output: RecordingProducer
) -> None:
    before = {
        "in": sample("streams_events_in_total"),
        "dup": sample("streams_duplicates_total"),
        "out": sample("streams_interactions_out_total", event_type="upvote"),
        "filtered": sample("streams_events_filtered_total", event_type="other"),
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
    assert [orjson.loads(r.value)["insert_id"] for r in output.on("out")] == [
        "a",
        None,
        "c",
        "d",
    ]
    assert [r.key for r in output.on("out")] == [b"u1", b"u1", b"u2", b"u1"]
    # Dedup entries are written only when asked (after the interactions' delivery), each to
    # the changelog on its event's source partition.
    assert output.on("seen-changelog") == []
    processor.write_seen(entries)
    changelog = output.on("seen-changelog")
    assert [r.partition for r in changelog] == [2, 0]  # one record per source partition
    assert len({r.key for r in changelog}) == 2  # unique keys: never compacted away
    recovered = SeenInsertIds(86400)
    assert recovered.load([(r.key, r.value) for r in changelog], entries.now_ms) == 3
    # The keys are (actor, insert id): "u" + the user id's length + ":" + user id + insert id.
    now = entries.now_ms
    assert recovered.seen(2, b"u2:u1a", now) and recovered.seen(2, b"u2:u1d", now)
    assert recovered.seen(0, b"u2:u2c", now) and not recovered.seen(2, b"u2:u2c", now)
    (dead,) = output.on("dlq")
    assert dead.value == b"{not json" and dead.key == b"u1"
    assert dict(dead.headers)["dead_letter_reason"] == b"undecodable_json"
    assert sample("streams_events_in_total") - before["in"] == 7
    assert sample("streams_duplicates_total") - before["dup"] == 1
    assert sample("streams_interactions_out_total", event_type="upvote") - before["out"] == 2
    filtered = sample("streams_events_filtered_total", event_type="other")
    assert filtered - before["filtered"] == 1
    assert sample("streams_dead_letters_total", reason="undecodable_json") - before["bad"] == 1


def test_filtered_event_types_are_one_label_value(processor: BatchProcessor) -> None:
    names = [f"custom_{n}" for n in range(20)] + ["x" * 100_000]
    before = sample("streams_events_filtered_total", event_type="other")
    processor.process((0, b"u", event(name, None)) for name in names)
    assert sample("streams_events_filtered_total", event_type="other") - before == 21
    assert sample("streams_events_filtered_total", event_type="custom_1") == 0


def raw(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "event_type": "click",
        "user_id": "u1",
        "insert_id": "i-1",
        "event_properties": {"item_id": "i1"},
    }
    return orjson.dumps({**base, **fields})


def reasons(output: RecordingProducer) -> list[str]:
    return [dict(r.headers)["dead_letter_reason"].decode() for r in output.on("dlq")]


@pytest.mark.parametrize(
    "value",
    [
        b'{"event_type":"click","user_id":"u1","time":100000000000000000000,"event_properties":{"item_id":"i"}}',
        b'{"event_type":"click","user_id":"u1","time":1e20,"event_properties":{"item_id":"i"}}',
        b'{"event_type":"click","user_id":"u1","time":'
        + b"9" * 400
        + b',"event_properties":{"item_id":"i"}}',
        raw(time=253402300800000),  # 10000-01-01, in ms
        raw(time=-(10**15)),
    ],
)
def test_a_time_no_datetime_can_hold_is_a_dead_letter_and_the_batch_goes_on(
    processor: BatchProcessor, output: RecordingProducer, value: bytes
) -> None:
    processor.process([(0, b"u1", value), (0, b"u1", raw(time=1700000000000, insert_id="ok"))])
    assert len(output.on("dlq")) == 1 and len(output.on("out")) == 1
    (reason,) = reasons(output)
    assert reason in ("invalid_time", "schema_invalid", "unexpected_error")


def test_an_exception_in_any_step_dead_letters_only_that_record(
    processor: BatchProcessor, output: RecordingProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    weigh = processor._weigher.weigh

    def flaky(value: bytes, now_ms: int | None = None) -> Any:
        if b"boom" in value:
            raise ZeroDivisionError("the weigher broke")
        return weigh(value, now_ms)

    monkeypatch.setattr(processor._weigher, "weigh", flaky)
    before = sample("streams_unexpected_errors_total", error="ZeroDivisionError")
    processor.process(
        [
            (0, b"u1", raw(insert_id="boom")),
            (0, b"u1", raw(insert_id="surrogate").replace(b"surrogate", b"\\ud800")),
            (0, b"u1", raw(insert_id="fine")),
        ]
    )
    assert [orjson.loads(r.value)["insert_id"] for r in output.on("out")] == ["fine"]
    details = [dict(r.headers)["dead_letter_detail"].decode() for r in output.on("dlq")]
    assert details[0] == "unexpected_error: ZeroDivisionError: the weigher broke"
    assert reasons(output) == ["unexpected_error", "undecodable_json"]  # msgspec refuses it
    assert sample("streams_unexpected_errors_total", error="ZeroDivisionError") - before == 1


def test_ids_past_the_limits_are_dead_letters(
    processor: BatchProcessor, output: RecordingProducer
) -> None:
    processor.process(
        [
            (0, b"u1", raw(insert_id="x" * 257)),
            (0, b"d", raw(user_id=None, device_id="d" * 300)),
            (0, b"u1", raw(insert_id="y" * 256)),
        ]
    )
    # (the weigher itself refuses the session id a 300-character device id makes)
    assert reasons(output)[0] == "id_limits" and reasons(output)[1] in (
        "id_limits",
        "schema_invalid",
    )
    assert len(output.on("out")) == 1


def test_no_output_exceeds_the_message_size(output: RecordingProducer) -> None:
    weigher = Weigher(load_rules(), ["item_id"])
    processor = BatchProcessor(weigher, SeenInsertIds(86400), output, TO, max_record_bytes=5_000)
    too_many_ids = raw(
        insert_id="imp", event_properties={"item_id": "i1", "impression": ["z" * 256] * 25}
    )
    no_item = raw(insert_id="pad", event_properties={"pad": "p" * 50_000})
    processor.process([(0, b"u1", too_many_ids), (0, b"k" * 20_000, no_item)])
    large, truncated = output.on("dlq")
    assert dict(large.headers)["dead_letter_reason"] == b"record_too_large"
    headers = dict(truncated.headers)
    assert headers["dead_letter_reason"] == b"missing_item_id"
    assert headers["truncated_from_bytes"] == str(len(no_item)).encode()
    assert truncated.key is None and no_item.startswith(truncated.value)
    assert all(record_size(r.key, r.value, r.headers) <= 5_000 for r in output.records)


def test_changelog_records_fit_the_message_size(output: RecordingProducer) -> None:
    weigher = Weigher(load_rules(), ["item_id"])
    processor = BatchProcessor(weigher, SeenInsertIds(86400), output, TO, max_record_bytes=10_000)
    entries = processor.process((0, b"u1", raw(insert_id=f"{n:0>250}")) for n in range(200))
    processor.write_seen(entries)
    changelog = output.on("seen-changelog")
    assert len(changelog) > 1 and all(len(r.value) + len(r.key) < 10_000 for r in changelog)
    recovered = SeenInsertIds(86400)
    assert recovered.load([(r.key, r.value) for r in changelog], entries.now_ms) == 200


def test_a_dead_letter_kafka_refuses_fails_the_batch(processor: BatchProcessor) -> None:
    """Not writing a dead letter and going on would lose the record: the batch is read again."""

    class Refusing(RecordingProducer):
        def produce(self, topic: str, *args: Any, **kwargs: Any) -> None:
            if topic == "dlq":
                raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
            super().produce(topic, *args, **kwargs)

    processor._output = Refusing()
    with pytest.raises(DeliveryFailed):
        processor.process([(0, b"u1", b"{not json")])


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (b'{"event_type":"click","user_id":"\xff\xfe","event_properties":{}}', b"invalid UTF-8"),
        (b'{"event_type":"click","user_id":"u","p":' + b"[" * 100_000 + b"]" * 100_000 + b"}", b""),
    ],
)
def test_invalid_utf8_and_deep_nesting_are_undecodable_json(
    processor: BatchProcessor, output: RecordingProducer, value: bytes, detail: bytes
) -> None:
    processor.process([(0, b"u1", value)])
    (dead,) = output.on("dlq")
    headers = dict(dead.headers)
    assert headers["dead_letter_reason"] == b"undecodable_json"
    assert detail in headers["dead_letter_detail"]


def test_equal_insert_ids_of_two_users_are_two_interactions(
    processor: BatchProcessor, output: RecordingProducer
) -> None:
    processor.process(
        [
            (0, b"alice", event("click", "same", user="alice")),
            (1, b"bob", event("click", "same", user="bob")),
            (0, b"alice", event("click", "same", user="alice")),  # alice's retry
        ]
    )
    out = [orjson.loads(r.value) for r in output.on("out")]
    assert [o["user_id"] for o in out] == ["alice", "bob"]
    assert out[0]["event_id"] != out[1]["event_id"]  # Personalize's eventId: scoped the same way


def test_events_without_a_time_are_counted(processor: BatchProcessor) -> None:
    before = sample("streams_events_without_time_total")
    timeless = orjson.dumps(
        {"event_type": "click", "user_id": "u", "event_properties": {"item_id": "i"}}
    )
    processor.process([(0, b"u", timeless), (0, b"u", event("click", "t1"))])
    assert sample("streams_events_without_time_total") - before == 1
