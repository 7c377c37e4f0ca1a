"""What the batching consumer does with a fetch it may not handle (streams/consumer.py).

Every record it does not handle is put back (its partition sought to the first one), because
aiokafka has already moved past it: dropped, it would be lost for a partition with no committed
offset, which Faust's seek to the committed offsets leaves where it is. The consumer runs here
without Kafka: Faust's fetch is replaced by the records a test gives, and its consumer thread
by a thread with an event loop of its own, as Faust's is, whose aiokafka consumer records the
seeks and the thread they ran in.
"""

import asyncio
import threading
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from streams.consumer import BatchingConsumer

RAW, CHANGELOG = "raw", "app-seen-insert-ids-changelog"
P0, P1 = TP(RAW, 0), TP(RAW, 1)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes = b"k"
    value: bytes = b"v"
    timestamp: int = 0
    timestamp_type: int = 0
    headers: tuple[()] = ()
    checksum: None = None
    serialized_key_size: int = 1
    serialized_value_size: int = 1


def fetched(tp: TP, *offsets: int) -> list[Record]:
    return [Record(tp.topic, tp.partition, o) for o in offsets]


class App:
    rebalancing = False
    consumer_generation_id = 1

    def __init__(self) -> None:
        self.crashed: list[BaseException] = []

    async def crash(self, reason: BaseException) -> None:
        self.crashed.append(reason)


class AiokafkaConsumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int, threading.Thread]] = []

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset, threading.current_thread()))


class ConsumerThread:
    """Runs what it is given in a thread of its own, on that thread's event loop."""

    def __init__(self) -> None:
        self.aiokafka = AiokafkaConsumer()

    def _ensure_consumer(self) -> AiokafkaConsumer:
        return self.aiokafka

    async def call_thread(self, fun: Any, *args: Any) -> Any:
        return await asyncio.to_thread(asyncio.run, fun(*args))


class Recording(BatchingConsumer):
    """The batching consumer with Faust's fetch, consumer thread and acknowledgement stubbed."""

    batch_topic = RAW

    def __init__(self, records: Mapping[TP, Sequence[Record]], active: set[TP]) -> None:
        # Faust's own __init__ needs an app and a transport; only what the fetch path uses is set.
        self._records, self._active = records, active
        self.app = App()
        self.flow_active = True
        self._stopped, self._crashed = threading.Event(), threading.Event()
        self._batches = deque()
        self._read_offset: dict[TP, int] = {}
        self._thread = ConsumerThread()
        self.handled: list[dict[TP, list[int]]] = []
        self.acked: list[int] = []

        async def handle(batch: Mapping[TP, Sequence[Any]]) -> None:
            self.handled.append({tp: [r.offset for r in rs] for tp, rs in batch.items()})

        self.batch_handler = handle

    @property
    def sought(self) -> dict[TP, int]:
        """Where the put-back sought each partition; only ever in the consumer thread."""
        seeks = self._thread.aiokafka.seeks
        assert all(thread is not threading.current_thread() for _, _, thread in seeks)
        return {tp: offset for tp, offset, _ in seeks}

    def _acknowledge(self, tp: TP, offsets: Sequence[int]) -> None:
        self.acked.extend(offsets)


@pytest.fixture(autouse=True)
def faust_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    async def wait_next_records(self: Recording, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109
        return self._records, self._active

    monkeypatch.setattr(Consumer, "_wait_next_records", wait_next_records)


def run(consumer: Recording) -> Any:
    async def fetch_and_finish() -> Any:
        result = await consumer._wait_next_records(1.0)
        await asyncio.gather(*consumer._batches)  # batches in flight
        return result

    return asyncio.run(fetch_and_finish())


def test_records_of_active_partitions_are_handled_and_acknowledged() -> None:
    consumer = Recording({P0: fetched(P0, 5, 6), P1: fetched(P1, 9)}, {P0, P1})
    others, _ = run(consumer)
    assert consumer.handled == [{P0: [5, 6], P1: [9]}]
    assert consumer.acked == [5, 6, 9]
    assert consumer.sought == {} and others == {}


def test_records_of_a_partition_faust_does_not_count_as_active_are_put_back() -> None:
    consumer = Recording({P0: fetched(P0, 5, 6), P1: fetched(P1, 9, 10)}, {P0})
    run(consumer)
    assert consumer.handled == [{P0: [5, 6]}]
    assert consumer.sought == {P1: 9}


def test_nothing_is_handled_while_a_rebalance_is_under_way_and_all_is_put_back() -> None:
    consumer = Recording({P0: fetched(P0, 5, 6), P1: fetched(P1, 9)}, {P0, P1})
    consumer.app.rebalancing = True
    run(consumer)
    assert consumer.handled == [] and consumer.acked == []
    assert consumer.sought == {P0: 5, P1: 9}


def test_nothing_is_handled_while_the_flow_is_stopped_and_all_is_put_back() -> None:
    consumer = Recording({P0: fetched(P0, 5)}, {P0})
    consumer.flow_active = False
    run(consumer)
    assert consumer.handled == [] and consumer.sought == {P0: 5}


def test_a_stopping_consumer_handles_nothing_and_seeks_nothing() -> None:
    consumer = Recording({P0: fetched(P0, 5)}, {P0})
    consumer._stopped.set()
    run(consumer)
    assert consumer.handled == [] and consumer.sought == {}


def test_records_of_other_topics_go_on_to_faust() -> None:
    changelog = TP(CHANGELOG, 0)
    consumer = Recording({P0: fetched(P0, 5), changelog: fetched(changelog, 0)}, {P0, changelog})
    others, _ = run(consumer)
    assert list(others) == [changelog]
    assert consumer.handled == [{P0: [5]}]


class Gated(Recording):
    """Its handler waits, for the batch starting at a given offset, until that gate opens."""

    def __init__(self, gates: dict[int, asyncio.Event], fail: int | None = None) -> None:
        super().__init__({}, {P0})

        async def handle(batch: Mapping[TP, Sequence[Any]]) -> None:
            first = batch[P0][0].offset
            if first in gates:
                await gates[first].wait()
            if first == fail:
                raise RuntimeError("outputs not acknowledged")
            self.handled.append({tp: [r.offset for r in rs] for tp, rs in batch.items()})
            self.progress.set()

        self.progress = asyncio.Event()
        self.batch_handler = handle

    async def handled_are(self, expected: list[dict[TP, list[int]]]) -> None:
        while self.handled != expected:
            await self.progress.wait()
            self.progress.clear()

    async def fetch(self, *offsets: int) -> None:
        self._records = {P0: fetched(P0, *offsets)}
        await self._wait_next_records(1.0)


def test_the_next_fetch_is_handled_while_a_batch_awaits_kafka_and_acks_keep_their_order() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        consumer = Gated({5: gate})
        await consumer.fetch(5, 6)  # returns at once: its batch waits for its acknowledgement
        await consumer.fetch(7, 8)
        await asyncio.wait_for(consumer.handled_are([{P0: [7, 8]}]), 5)
        assert consumer.acked == []  # not before the batch fetched first
        gate.set()
        await asyncio.gather(*consumer._batches)
        assert consumer.acked == [5, 6, 7, 8]

    asyncio.run(scenario())


def test_a_failed_batch_crashes_the_app_and_leaves_the_ones_after_it_unacknowledged() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        consumer = Gated({5: gate}, fail=5)
        await consumer.fetch(5, 6)
        await consumer.fetch(7, 8)
        gate.set()
        await asyncio.wait(consumer._batches)
        assert consumer.handled == [{P0: [7, 8]}] and consumer.acked == []
        await consumer._crashing  # the crash runs as a task of its own
        assert [str(reason) for reason in consumer.app.crashed] == ["outputs not acknowledged"]
        with pytest.raises(RuntimeError, match="not acknowledged"):
            await consumer.fetch(9)

    asyncio.run(scenario())


def test_no_more_batches_than_allowed_are_in_flight() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        consumer = Gated({5: gate})
        consumer.max_batches_in_flight = 2
        await consumer.fetch(5, 6)
        second = asyncio.ensure_future(consumer.fetch(7, 8))
        await asyncio.wait_for(consumer.handled_are([{P0: [7, 8]}]), 5)
        assert not second.done()  # the fetcher waits for the oldest batch
        gate.set()
        await asyncio.wait_for(second, 5)
        assert consumer.acked[:2] == [5, 6]

    asyncio.run(scenario())


def test_a_batch_acknowledged_in_bulk_is_what_faust_commits() -> None:
    consumer = Recording({}, {P0})
    consumer.app.topics = type("Topics", (), {"acks_enabled_for": staticmethod(bool)})()
    consumer._committed_offset = defaultdict(lambda: None, {P0: 5})
    consumer._acked, consumer._acked_index = defaultdict(list), defaultdict(set)
    consumer._gap, consumer._n_acked = defaultdict(IntervalTree), 0
    acknowledge = BatchingConsumer._acknowledge
    acknowledge(consumer, P0, range(3, 8))  # 3 and 4 are below the committed offset
    acknowledge(consumer, P0, [8, 9])
    acknowledge(consumer, P0, range(7, 10))  # again: counted once
    assert consumer._n_acked == 5
    assert Consumer._new_offset(consumer, P0) == 10  # Faust's own reading of the acks
