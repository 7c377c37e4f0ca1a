"""The start-up check of the Faust internals the batching consumer relies on."""

import faust
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

from streams import faust_internals


def test_the_pinned_faust_streaming_has_everything() -> None:
    app = faust.App("internals-check", broker="kafka://127.0.0.1:9")
    assert faust_internals.missing_parts(Consumer, app, AIOKafkaConsumerThread) == []
    faust_internals.require(app)  # does not raise


def test_a_missing_part_refuses_the_start_naming_it() -> None:
    class Reshaped(Consumer):  # as if a release renamed the method
        _wait_next_records = None  # type: ignore[assignment]

    with pytest.raises(SystemExit, match=r"faust-streaming \S+ lacks .*_wait_next_records"):
        faust_internals.require(consumer_class=Reshaped)


def test_a_changed_signature_refuses_the_start() -> None:
    class Reshaped(Consumer):
        async def _wait_next_records(self, deadline: float) -> tuple[object, object]:  # type: ignore[override]
            return {}, None

    assert faust_internals.missing_parts(Reshaped) == [
        "Consumer._wait_next_records(timeout) has no `timeout` parameter"
    ]


def test_an_app_without_the_generation_id_or_the_rebalancing_flag_is_refused() -> None:
    class Bare:
        transport = type("Transport", (), {"Consumer": Consumer})()

    assert faust_internals.missing_parts(Consumer, Bare()) == [
        "App.rebalancing (True until a rebalance has sought and resumed)",
        "App.consumer_generation_id (the rebalance generation)",
        "App.topics.acks_enabled_for (topic) -> whether its offsets commit",
    ]


def test_a_consumer_thread_without_call_thread_is_refused() -> None:
    class Reshaped(AIOKafkaConsumerThread):
        call_thread = None  # type: ignore[assignment]

    with pytest.raises(SystemExit, match=r"AIOKafkaConsumerThread.call_thread"):
        faust_internals.require(thread_class=Reshaped)
