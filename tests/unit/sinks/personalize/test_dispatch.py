"""The dispatcher with a fake client and a fake clock: the in-flight cap, tokens, quota-aware
batching, retries with backoff, poison halving, fatal stops and their probes, revoked
partitions."""

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sinks.personalize.batcher import Batcher, Call, Pending
from sinks.personalize.delivery import Delivery, Outcome, Verdict
from sinks.personalize.dispatch import Dispatcher, backoff
from sinks.personalize.rate_limit import RateLimiter
from sinks.personalize.settings import SinkSettings

BASE, CAP, PROBE = 1.0, 8.0, 10.0


def client_error(code: str, status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutEvents")  # type: ignore[arg-type]


class FakeClient:
    """Records the offsets of each call's events; `fail` decides an error (or None) per call."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.fail: Any = lambda offsets: None
        self.gate: threading.Event | None = None  # when set up, calls wait for it
        self._lock = threading.Lock()

    def put_events(self, **request: Any) -> dict[str, Any]:
        offsets = [int(event["eventId"]) for event in request["eventList"]]
        with self._lock:
            self.sent.append(offsets)
        if self.gate is not None:
            assert self.gate.wait(10)
        error = self.fail(offsets)
        if error is not None:
            raise error
        return {}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def call(*offsets: int, partition: int = 0) -> Call:
    items = [Pending(partition, o, {"eventId": str(o), "eventType": "t"}, b"") for o in offsets]
    return Call(partition, "u", "s", items)


def dispatcher(
    client: FakeClient,
    clock: Clock,
    limiter: RateLimiter | None = None,
    current: Any = lambda call: True,
    threads: int = 2,
    batching: str = "quota",
) -> Dispatcher:
    settings = SinkSettings(
        sink_threads=threads,
        sink_batching=batching,
        sink_backoff_base_seconds=BASE,
        sink_backoff_max_seconds=CAP,
        sink_fatal_retry_seconds=PROBE,
    )
    limiter = limiter or RateLimiter(1e9)  # tokens always free, unless a test says otherwise
    made = Dispatcher(settings, Delivery(client, "tracker").send, limiter, current, clock)
    return made


def settle(dispatcher: Dispatcher) -> list[Outcome]:
    """Collect until nothing is in flight (each wait ends when an outcome comes back)."""
    settled: list[Outcome] = []
    deadline = time.monotonic() + 10
    while dispatcher.in_flight:
        assert time.monotonic() < deadline, "calls never came back"
        settled += dispatcher.collect(wait=1.0)
    return settled


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_in_flight_cap_counts_the_pool_and_what_the_loop_still_holds(
    client: FakeClient, clock: Clock
) -> None:
    client.gate = threading.Event()
    sending = dispatcher(client, clock, threads=2)
    assert sending.pool_slots == 4  # a queued call per busy thread
    assert sending.max_in_flight == 8  # and as many again awaiting their delivery-log record
    sending.submit_all(call(n) for n in range(10))
    sending.dispatch(held=5)  # delivered calls whose delivery-log records are not stored yet
    assert sending.in_flight == 3  # 3 + 5 held: the whole in-flight cap
    sending.dispatch(held=2)
    assert sending.in_flight == 4  # the pool's cap, though 2 more could be in flight
    sending.dispatch(held=0)
    assert sending.in_flight == 4
    client.gate.set()
    assert [o.verdict for o in settle(sending)] == [Verdict.DELIVERED] * 4
    sending.dispatch(held=4)  # the 4 just delivered, their log records not stored yet
    assert sending.in_flight == 4  # held calls no longer take the pool's slots
    assert len(settle(sending)) == 4
    sending.dispatch()
    assert sending.in_flight == 2  # the rest go once slots are free
    assert len(settle(sending)) == 2
    assert sorted(client.sent) == [[n] for n in range(10)]
    sending.close()


def test_a_call_without_a_token_waits_for_a_later_turn(client: FakeClient, clock: Clock) -> None:
    limiter = RateLimiter(1, burst=1, clock=clock)  # one token a second
    sending = dispatcher(client, clock, limiter=limiter)
    sending.submit_all(call(n) for n in range(3))
    sending.dispatch()
    assert sending.in_flight == 1
    settle(sending)
    sending.dispatch()
    assert sending.in_flight == 0 and sending.busy  # no token: queued, back next turn
    clock.now += 1
    sending.dispatch()
    assert sending.in_flight == 1
    settle(sending)
    assert client.sent == [[0], [1]]
    sending.close()


def pending(offset: int, partition: int = 0) -> Pending:
    return Pending(partition, offset, {"eventId": str(offset), "eventType": "t"}, b"")


def test_at_the_limit_a_lingered_group_keeps_taking_its_sessions_events(
    client: FakeClient, clock: Clock
) -> None:
    """Quota-aware: no token, so the lingered group stays in the batcher and grows; it goes
    with everything it took as soon as a token is free."""
    limiter = RateLimiter(1, burst=1, clock=clock)  # one token a second
    batcher = Batcher(0.5, clock)
    sending = dispatcher(client, clock, limiter=limiter)
    sending.submit(call(100))
    sending.dispatch()  # takes the only token
    settle(sending)
    batcher.add("u", "s", pending(0))
    clock.now += 0.6  # past the linger, but no token until 101.0
    sending.take_lingered(batcher)
    sending.dispatch()
    assert sending.in_flight == 0 and not sending.busy  # nothing queued to wait for a token
    batcher.add("u", "s", pending(1))  # the session's next event joins the lingering group
    batcher.add("u", "s", pending(2))
    clock.now += 0.4  # a token is free: the group goes at once
    sending.take_lingered(batcher)
    sending.dispatch()
    settle(sending)
    assert client.sent == [[100], [0, 1, 2]]
    assert batcher.events == 0
    sending.close()


def test_fixed_batching_queues_a_lingered_group_to_wait_for_its_token(
    client: FakeClient, clock: Clock
) -> None:
    """SINK_BATCHING=fixed, the old behaviour: the group leaves at the linger, so the
    session's later events make a call of their own."""
    limiter = RateLimiter(1, burst=1, clock=clock)
    batcher = Batcher(0.5, clock)
    sending = dispatcher(client, clock, limiter=limiter, batching="fixed")
    sending.submit(call(100))
    sending.dispatch()
    settle(sending)
    batcher.add("u", "s", pending(0))
    clock.now += 0.6
    sending.take_lingered(batcher)
    sending.dispatch()
    assert sending.busy and batcher.events == 0  # queued, waiting for its token
    batcher.add("u", "s", pending(1))
    clock.now += 0.4
    sending.take_lingered(batcher)
    sending.dispatch()
    settle(sending)
    assert client.sent == [[100], [0]]
    assert batcher.events == 1
    sending.close()


def test_below_the_limit_every_lingered_group_goes_at_the_linger(
    client: FakeClient, clock: Clock
) -> None:
    """Quota-aware batching adds no latency while tokens and slots are free."""
    batcher = Batcher(0.5, clock)
    sending = dispatcher(client, clock, threads=4)
    for n in range(3):
        batcher.add(f"u{n}", "s", pending(n, partition=n))
    clock.now += 0.4
    sending.take_lingered(batcher)
    assert sending.in_flight == 0 and batcher.events == 3  # not lingered yet
    clock.now += 0.1
    sending.take_lingered(batcher)
    sending.dispatch()
    settle(sending)
    assert sorted(client.sent) == [[0], [1], [2]]
    sending.close()


def test_the_room_is_the_free_tokens_or_slots_less_what_is_queued_oldest_group_first(
    client: FakeClient, clock: Clock
) -> None:
    limiter = RateLimiter(10, burst=3, clock=clock)  # three tokens saved up
    batcher = Batcher(0.5, clock)
    sending = dispatcher(client, clock, limiter=limiter, threads=2)  # 4 pool slots, 8 in flight
    batcher.add("a", "s", pending(0, partition=0))
    clock.now += 0.1
    batcher.add("b", "s", pending(1, partition=1))
    clock.now += 0.1
    batcher.add("c", "s", pending(2, partition=0))
    batcher.add("d", "s", pending(3, partition=1))
    clock.now += 0.5
    sending.submit(call(9, partition=2))  # a full call from the batcher, say: it goes first
    assert sending.room() == 2 and sending.room(held=6) == 1 and sending.room(held=7) == 0
    sending.take_lingered(batcher)
    sending.dispatch()
    settle(sending)
    assert sorted(client.sent) == [[0], [1], [9]]  # the two oldest groups, across partitions
    assert batcher.events == 2 and batcher.overdue()
    sending.close()


@pytest.mark.parametrize(
    "error", [client_error("ThrottlingException"), client_error("SomethingNew", 403)]
)
def test_a_failed_call_is_requeued_with_backoff_never_dropped(
    client: FakeClient, clock: Clock, error: ClientError
) -> None:
    """Retryable (throttled) and unexpected errors alike: only this call waits."""
    client.fail = lambda offsets: error if len(client.sent) == 1 else None
    sending = dispatcher(client, clock)
    first = call(1)
    sending.submit(first)
    sending.dispatch()
    assert settle(sending) == []  # not settled: it is the dispatcher's to retry
    assert first.attempts == 1
    sending.dispatch()
    assert sending.in_flight == 0  # waits for its backoff
    clock.now += backoff(first.attempts, BASE, CAP, draw=lambda: 1.0)  # the longest it can be
    sending.dispatch()
    assert [(o.verdict, o.call.items) for o in settle(sending)] == [
        (Verdict.DELIVERED, first.items)
    ]
    assert client.sent == [[1], [1]]
    sending.close()


def test_a_poison_call_is_halved_until_the_offending_event_is_alone(
    client: FakeClient, clock: Clock
) -> None:
    client.fail = lambda offsets: client_error("InvalidInputException") if 2 in offsets else None
    sending = dispatcher(client, clock)
    sending.submit(call(0, 1, 2, 3))
    sending.submit(call(10))  # a later call of the same partition: the halves go before it
    settled: list[Outcome] = []
    while sending.busy:
        sending.dispatch(held=sending.max_in_flight - 1)  # one call out at a time
        settled += settle(sending)
    assert client.sent == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3], [10]]
    assert [(o.verdict, [i.offset for i in o.call.items]) for o in settled] == [
        (Verdict.DELIVERED, [0, 1]),
        (Verdict.POISON, [2]),  # alone: the loop dead-letters it with the AWS message
        (Verdict.DELIVERED, [3]),
        (Verdict.DELIVERED, [10]),
    ]
    assert settled[1].error_code == "InvalidInputException"
    sending.close()


def test_a_fatal_error_stops_delivery_and_probes_with_the_held_call(
    client: FakeClient, clock: Clock
) -> None:
    broken = [True]
    client.fail = lambda offsets: client_error("ResourceNotFoundException") if broken[0] else None
    sending = dispatcher(client, clock)
    sending.submit_all([call(1), call(2)])
    sending.dispatch(held=sending.max_in_flight - 1)
    assert settle(sending) == []
    assert sending.stopped_by == "ResourceNotFoundException"
    assert not sending.busy  # the loop may sleep a whole poll: nothing goes until the probe
    sending.dispatch()
    assert sending.in_flight == 0
    clock.now += PROBE
    sending.dispatch()
    assert sending.in_flight == 1  # one probe, though the cap has room
    clock.now += PROBE
    sending.dispatch()
    assert sending.in_flight == 1  # one probe at a time: the next waits for this one's outcome
    settle(sending)
    assert sending.stopped_by == "ResourceNotFoundException"
    sending.dispatch()  # it came back refused: the next probe (due meanwhile) goes
    settle(sending)
    clock.now += PROBE / 2
    sending.dispatch()
    assert sending.in_flight == 0  # the next probe is not due yet
    broken[0] = False
    clock.now += PROBE / 2
    sending.dispatch()
    assert [o.call.items[0].offset for o in settle(sending)] == [1]
    assert sending.stopped_by is None
    sending.dispatch()
    assert [o.call.items[0].offset for o in settle(sending)] == [2]
    assert client.sent == [[1]] * 4 + [[2]]  # the held call first, the other after it
    sending.close()


def test_a_revoked_partitions_calls_are_dropped_not_retried(
    client: FakeClient, clock: Clock
) -> None:
    revoked: set[int] = set()
    client.fail = lambda offsets: client_error("ThrottlingException")
    sending = dispatcher(client, clock, current=lambda call: call.partition not in revoked)
    sending.submit_all([call(1, partition=0), call(2, partition=1)])
    sending.dispatch()
    revoked.add(0)  # partition 0 revoked while its call was out: its outcome is dropped
    assert settle(sending) == []
    sending.submit(call(3, partition=1))
    sending.forget([1])  # partition 1 revoked: its retry and its queued call are dropped
    client.fail = lambda offsets: None
    clock.now += CAP
    sending.dispatch()
    assert sending.in_flight == 0 and not sending.busy
    assert sorted(client.sent) == [[1], [2]]
    sending.close()


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert backoff(0, 0.5, 30, lambda: 1.0) == 0.5
    assert backoff(3, 0.5, 30, lambda: 1.0) == 4.0
    assert backoff(10, 0.5, 30, lambda: 1.0) == 30
    assert backoff(3, 0.5, 30, lambda: 0.25) == 1.0


def test_a_send_that_raises_is_retried_not_lost(clock: Clock) -> None:
    """A bug in sending (not an AWS answer) comes back as unexpected: the call is retried."""
    attempts: list[int] = []

    def send(made: Call) -> Outcome:
        attempts.append(made.attempts)
        if len(attempts) == 1:
            raise RuntimeError("a bug")
        return Outcome(made, Verdict.DELIVERED)

    settings = SinkSettings(
        sink_threads=1, sink_backoff_base_seconds=BASE, sink_backoff_max_seconds=CAP
    )
    sending = Dispatcher(settings, send, RateLimiter(1e9), lambda made: True, clock)
    sending.submit(call(1))
    sending.dispatch()
    assert settle(sending) == [] and sending.busy is False  # waiting for its backoff
    clock.now += CAP
    sending.dispatch()
    assert [o.verdict for o in settle(sending)] == [Verdict.DELIVERED]
    assert attempts == [0, 1]
    sending.close()


def test_close_waits_for_started_calls_and_cancels_the_rest(
    client: FakeClient, clock: Clock
) -> None:
    client.gate = threading.Event()
    started = threading.Event()
    put_events = client.put_events

    def signalling(**request: Any) -> dict[str, Any]:
        started.set()
        return put_events(**request)

    client.put_events = signalling  # type: ignore[method-assign]
    sending = dispatcher(client, clock, threads=1)
    sending.submit_all(call(n) for n in range(2))
    sending.dispatch()  # one thread: call 0 is sent, call 1 waits in the pool's queue
    assert started.wait(10)
    closing = threading.Thread(target=sending.close)
    closing.start()
    client.gate.set()
    closing.join(10)
    assert not closing.is_alive()
    assert client.sent == [[0]]  # call 1 was never started
