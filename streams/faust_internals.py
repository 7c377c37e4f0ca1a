"""The Faust internals streams/consumer.py builds on, checked before the worker starts.

The batching consumer overrides and calls private parts of faust-streaming's aiokafka
consumer. A faust-streaming release that renames or reshapes one of them would make the stage
silently stop intercepting (or lose) records, so the worker refuses to start instead, naming
what is missing and the installed version. tests/unit/streams/test_faust_internals.py runs the check
against the pinned version and against a consumer class with a part removed.
"""

import inspect
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# name -> what it must be on faust.transport.drivers.aiokafka.Consumer.
_CONSUMER_PARTS = {
    "_wait_next_records": "coroutine (self, timeout) -> (records, active partitions)",
    "_acked": "attribute: per partition, the acknowledged offsets its commit reads",
    "_acked_index": "attribute: per partition, the set of those offsets",
    "_committed_offset": "attribute: per partition, the last committed offset",
    "_n_acked": "attribute: acknowledged offsets since the last commit",
    "_read_offset": "attribute: per partition, the last offset read",
    "flow_active": "attribute: False while a rebalance stops the flow",
    "should_stop": "attribute: True once the consumer is stopping",
    "on_partitions_revoked": "coroutine (revoked): forgets the revoked partitions' acks",
    "on_stop": "coroutine (): Faust's own stop, which commits what is acknowledged",
    "force_commit": "coroutine (): commits every acknowledged offset",
    "maybe_wait_for_commit_to_finish": "coroutine (): waits for a commit under way",
    "_thread": "attribute: the consumer thread aiokafka runs in, on its own event loop",
    "_new_consumer_thread": "method (): builds that thread",
}
# name -> what it must be on faust.transport.drivers.aiokafka.AIOKafkaConsumerThread.
_THREAD_PARTS = {
    "call_thread": "coroutine (fun, *args): awaits fun(*args) run in the consumer thread",
    "_ensure_consumer": "method (): the aiokafka consumer (seek(tp, offset))",
    "_create_worker_consumer": "method (transport): builds the worker's aiokafka consumer, "
    "whose _fetch_max_wait_ms its start() reads",
}


def _has_attribute(cls: type, name: str) -> bool:
    """Set in __init__ but declared on a class of the MRO (an annotation), or a class value."""
    return hasattr(cls, name) or any(
        name in vars(k).get("__annotations__", {}) for k in cls.__mro__
    )


def missing_parts(
    consumer_class: type, app: Any = None, thread_class: type | None = None
) -> list[str]:
    """What the batching consumer needs and `consumer_class` (and `app`, `thread_class`) lack;
    empty: all."""
    missing = []
    for name, what in _CONSUMER_PARTS.items():
        if not _has_attribute(consumer_class, name):
            missing.append(f"Consumer.{name} ({what})")
    if thread_class is not None:
        for name, what in _THREAD_PARTS.items():
            if not callable(getattr(thread_class, name, None)):
                missing.append(f"AIOKafkaConsumerThread.{name} ({what})")
    if _has_attribute(consumer_class, "_wait_next_records") and not callable(
        consumer_class._wait_next_records
    ):
        missing.append("Consumer._wait_next_records is not a method")
    wait = getattr(consumer_class, "_wait_next_records", None)
    if callable(wait):
        if not inspect.iscoroutinefunction(wait):
            missing.append("Consumer._wait_next_records is not a coroutine function")
        elif "timeout" not in inspect.signature(wait).parameters:
            missing.append("Consumer._wait_next_records(timeout) has no `timeout` parameter")
    if app is not None:
        if not hasattr(app, "rebalancing"):
            missing.append("App.rebalancing (True until a rebalance has sought and resumed)")
        if not hasattr(app, "consumer_generation_id"):
            missing.append("App.consumer_generation_id (the rebalance generation)")
        if not callable(getattr(getattr(app, "topics", None), "acks_enabled_for", None)):
            missing.append("App.topics.acks_enabled_for (topic) -> whether its offsets commit")
        if not hasattr(getattr(app, "transport", None), "Consumer"):
            missing.append("App.transport.Consumer (the consumer class the app builds)")
    return missing


def require(
    app: Any = None, consumer_class: type | None = None, thread_class: type | None = None
) -> None:
    """Refuse to start (SystemExit with what is missing) when the internals are not there."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

    missing = missing_parts(consumer_class or Consumer, app, thread_class or AIOKafkaConsumerThread)
    if missing:
        try:
            installed = version("faust-streaming")
        except PackageNotFoundError:
            installed = "unknown"
        raise SystemExit(
            f"faust-streaming {installed} lacks what the stream stage's batching consumer "
            f"(streams/consumer.py) relies on: {'; '.join(missing)}. Install the version "
            "pinned in pyproject.toml, or adapt streams/consumer.py to this one."
        )
