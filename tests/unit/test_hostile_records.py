"""Hostile records through the stream stage's and the sink's per-record paths (hypothesis).

Out-of-range numbers, huge strings, wrong types, nulls, deep nesting, invalid UTF-8, lone
surrogates: no exception escapes, every input ends as exactly one of an interaction, a
filtered event or a dead letter, and no output exceeds Kafka's message size.
"""

import itertools
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pydantic import SecretStr

from core.record_size import fit_dead_letter, record_size
from schemas import Interaction, load_rules
from sinks.personalize.events import event_problems
from sinks.personalize.intake import Accepted, Refused, take
from sinks.personalize.settings import SinkSettings
from sinks.personalize.sink import PersonalizeSink
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor, Destinations
from streams.weighting import Weigher
from tests.fixtures.recording_producer import RecordingProducer

MAX_BYTES = 20_000  # small, so that huge values do cross it
RULE_NAMES = [name for rule in load_rules().rule for name in (rule.event_type, *rule.aliases)]
HYPOTHESIS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


class Raw(bytes):
    """A JSON fragment written as is: numbers JSON allows but Python cannot hold, bad bytes."""


def write(value: Any) -> bytes:
    """JSON text of `value`, with Raw fragments verbatim and strings escaped as a sender may
    (lone surrogates included: json.dumps escapes them as \\udxxx)."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, dict):
        items = (write(str(k)) + b":" + write(v) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(write(v) for v in value) + b"]"
    if isinstance(value, float) and value != value:
        return b"NaN"  # not JSON: decoders must refuse it, not crash
    return json.dumps(value).encode()  # ints of any size, inf as Infinity


numbers = st.one_of(
    st.integers(),  # unbounded: 400 digits come up
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Raw(b"1e400"),
            Raw(b"-1e400"),
            Raw(b"1e20"),
            Raw(b"9" * 400),
            Raw(b"-0"),
            Raw(b"1700000000"),  # seconds
            Raw(b"1700000000000000"),  # microseconds
            Raw(b"253402300800000"),  # 10000-01-01 in ms
            Raw(b"-62135596800001"),  # before year 1
        ]
    ),
)
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None, categories=None), max_size=10),  # surrogates included
    st.builds(lambda c, n: c * n, st.characters(), st.sampled_from([255, 256, 257, 5000, 30_000])),
    st.sampled_from([Raw(b'"\xff\xfe"'), Raw(b'"\xc3"'), Raw(b'"\\ud800"'), Raw(b'"\\udfff x"')]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
deep = st.integers(min_value=1, max_value=5000).map(lambda d: Raw(b"[" * d + b"]" * d))
values = st.recursive(
    st.one_of(scalars, deep),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
ids = st.one_of(st.text(min_size=1, max_size=20), values)

FIELDS = {
    "event_type": st.one_of(st.sampled_from(RULE_NAMES), values),
    "user_id": ids,
    "device_id": ids,
    "time": st.one_of(numbers, values),
    "insert_id": ids,
    "$insert_id": ids,
    "session_id": st.one_of(numbers, values),
    "uuid": ids,
    "event_time": st.one_of(texts, values),
    "event_properties": st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "item_id": ids,
                "impression": st.one_of(st.lists(ids, max_size=40), values),
                "recommendation_id": ids,
            },
        ),
        values,
    ),
}
events = st.fixed_dictionaries({}, optional=FIELDS)
raw_events = st.one_of(
    events.map(write),
    st.binary(max_size=200),  # anything at all, invalid UTF-8 included
    st.sampled_from([b"null", b"[]", b"{}", b"", b'"x"', b"{" * 10_000]),
    st.tuples(events.map(write), st.binary(min_size=1, max_size=3), st.integers(0, 100)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]  # bytes spliced into a valid event
    ),
)


def filtered_count() -> float:
    return REGISTRY.get_sample_value("streams_events_filtered_total", {"event_type": "other"}) or 0


WEIGHER = Weigher(load_rules(), ["item_id", "itemId", "content_id"])
TO = Destinations(interactions="out", dead_letters="dlq", seen_changelog="seen")


@HYPOTHESIS
@given(raw=raw_events, key=st.one_of(st.none(), st.binary(max_size=30)))
def test_the_stream_stage_sorts_every_record_into_exactly_one_outcome(
    raw: bytes, key: bytes | None
) -> None:
    output = RecordingProducer()
    processor = BatchProcessor(
        WEIGHER, SeenInsertIds(86400), output, TO, max_record_bytes=MAX_BYTES
    )
    before = filtered_count()
    entries = processor.process([(0, key, raw)])
    processor.write_seen(entries)
    topics = [record.topic for record in output.records if record.topic != "seen"]
    filtered = filtered_count() - before
    assert len(topics) + filtered == 1, (topics, filtered)
    for topic, record_key, value, headers, _partition in output.records:
        assert record_size(record_key, value, headers) <= MAX_BYTES
        if topic == "out":
            Interaction.model_validate_json(value or b"")  # the contract holds for what is out
        if topic == "dlq":
            assert dict(headers)["dead_letter_reason"]


interaction_fields = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.one_of(st.just(1), values),
        "event_id": ids,
        "user_id": ids,
        "device_id": ids,
        "session_id": ids,
        "item_id": ids,
        "event_type": ids,
        "personalize_event_type": ids,
        "weight": st.one_of(numbers, values),
        "timestamp_ms": st.one_of(numbers, values),
        "impression": st.one_of(st.lists(ids, max_size=30), values),
        "recommendation_id": ids,
        "insert_id": ids,
    },
)
VALID = {
    "event_id": "e",
    "session_id": "s",
    "item_id": "i",
    "event_type": "click",
    "personalize_event_type": "click",
    "weight": 1.0,
    "timestamp_ms": 1_700_000_000_000,
}
interaction_values = st.one_of(
    interaction_fields.map(lambda fields: write({**VALID, **fields})),
    interaction_fields.map(write),
    raw_events,
)


@HYPOTHESIS
@given(value=interaction_values)
def test_the_sinks_intake_never_raises_and_accepts_only_sendable_events(value: bytes) -> None:
    taken = take(value)
    assert isinstance(taken, Accepted | Refused)
    if isinstance(taken, Accepted):
        assert event_problems(taken.user_id, taken.session_id, taken.event) == []
        assert taken.event["sentAt"].year <= 9999
    else:
        assert taken.reason


class Message:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[PersonalizeSink, RecordingProducer]]:
    """A dry-run sink whose producer records what it is given (its consumer never polls)."""
    quiet = SecretStr('{"log_level": 0}')  # no broker: silence librdkafka's connect errors
    settings = SinkSettings(
        kafka_bootstrap_servers="127.0.0.1:9",
        kafka_client_config=quiet,
        sink_dry_run=True,
        kafka_message_max_bytes=MAX_BYTES,
    )
    made = PersonalizeSink(settings)
    real, recorder = made._producer, RecordingProducer()
    made._producer = recorder  # type: ignore[assignment]
    yield made, recorder
    made._consumer.close()
    real.flush(0)


OFFSETS = itertools.count()


@HYPOTHESIS
@given(value=interaction_values)
def test_the_sink_batches_or_dead_letters_every_record(
    sink: tuple[PersonalizeSink, RecordingProducer], value: bytes
) -> None:
    runner, output = sink
    output.records.clear()
    runner._accept(Message(next(OFFSETS), value))  # type: ignore[arg-type]
    held = sum(len(call.items) for call in runner._batcher.drain())
    queued = runner._dispatcher._ready  # full groups handed to the dispatcher, not sent
    while queued:
        held += len(queued.pop().items)
    assert held + len(output.records) == 1
    for _topic, key, record, headers, _partition in output.records:
        assert record_size(key, record, headers) <= MAX_BYTES
        assert dict(headers)["dead_letter_reason"]


@HYPOTHESIS
@given(
    key=st.one_of(st.none(), st.binary(max_size=40_000)),
    value=st.one_of(st.none(), st.binary(max_size=60_000)),
    headers=st.lists(
        st.tuples(st.text("abc_", max_size=200), st.binary(max_size=3000)), max_size=5
    ),
)
def test_a_dead_letter_always_fits(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    fitted_key, fitted_value, fitted_headers = fit_dead_letter(key, value, headers, 10_000)
    assert record_size(fitted_key, fitted_value, fitted_headers) <= 10_000
    if record_size(key, value, headers) <= 10_000:
        assert (fitted_key, fitted_value, fitted_headers) == (key, value, headers)


def test_hostile_json_writer_writes_what_senders_send() -> None:
    assert write({"t": Raw(b"1e400"), "s": "\ud800"}) == b'{"t":1e400,"s":"\\ud800"}'
    assert orjson.loads(write({"a": [1, None]})) == {"a": [1, None]}
