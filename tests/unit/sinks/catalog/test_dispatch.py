"""The users sink's delivery with a fake client and a fake clock: the coalescing window, calls
of at most 10, the calls-per-second window, retries with backoff, halving to the refused
record, fatal stops and their probes, revoked partitions."""

from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from schemas.catalog import UserRecord, catalog_encoder
from sinks.catalog import kinds
from sinks.catalog.call_window import CallWindow
from sinks.catalog.coalescer import Coalescer
from sinks.catalog.dispatch import Dispatcher
from sinks.catalog.settings import CatalogSinkSettings

ARN = "arn:aws:personalize:us-east-1:000000000000:dataset/g/USERS"


def client_error(code: str, status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutUsers")  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Records each call's (userId, properties); `fail` decides an error (or None) per call."""

    def __init__(self, clock: Clock, duration: float = 0.0) -> None:
        self.calls: list[list[tuple[str, dict[str, Any]]]] = []
        self.started: list[float] = []
        self.fail: Any = lambda users: None
        self._clock, self._duration = clock, duration

    def put_users(self, datasetArn: str, users: list[dict[str, str]]) -> dict[str, Any]:
        assert datasetArn == ARN
        self.started.append(self._clock.now)
        self._clock.now += self._duration
        entries = [(u["userId"], orjson.loads(u.get("properties", "{}"))) for u in users]
        self.calls.append(entries)
        error = self.fail([user for user, _ in entries])
        if error is not None:
            raise error
        return {}


def settings(**values: Any) -> CatalogSinkSettings:
    defaults: dict[str, Any] = {
        "users_dataset_arn": ARN,
        "catalog_sink_window_seconds": 1.0,
        "catalog_sink_rate_limit_calls_per_second": 10,
        "catalog_sink_backoff_base_seconds": 1.0,
        "catalog_sink_backoff_max_seconds": 8.0,
        "catalog_sink_fatal_retry_seconds": 10.0,
    }
    return CatalogSinkSettings.model_validate({**defaults, **values})


class Harness:
    def __init__(self, duration: float = 0.0, **values: Any) -> None:
        self.clock = Clock()
        self.client = FakeClient(self.clock, duration)
        self.settings = settings(**values)
        self.coalescer = Coalescer(self.settings.catalog_sink_window_seconds, self.clock)
        self.dispatcher = Dispatcher(
            kinds.users(self.settings),
            self.client,
            self.settings,
            self.coalescer,
            self.clock,
            jitter=lambda low, high: high,  # the cap: deterministic backoff
        )
        self.offset = 0

    def update(self, user: str, partition: int = 0, **fields: Any) -> None:
        record = UserRecord(user_id=user, fields=fields, updated_at_ms=self.offset)
        self.coalescer.add(
            partition, self.offset, user, record, catalog_encoder.encode(record), epoch=1
        )
        self.offset += 1

    def step(self) -> list[tuple[str, list[int], str | None]]:
        return [
            (kinds.record_id(f.entry.record), f.entry.offsets, f.reason)
            for f in self.dispatcher.step()
        ]


def test_updates_of_one_user_within_the_window_are_one_record_the_newest() -> None:
    h = Harness()
    for n in range(1000):
        h.update("u1", COUNTRY=f"c{n}")
    h.clock.now += 0.5
    assert h.step() == [] and h.client.calls == []  # the window is not over
    h.clock.now += 0.5
    finished = h.step()
    assert h.client.calls == [[("u1", {"country": "c999"})]]
    assert finished == [("u1", list(range(1000)), None)]  # every offset done with it


def test_properties_keys_are_camel_case_of_the_schema_fields() -> None:
    assert kinds.camel_case("NUMBER_OF_VIDEOS_WATCHED") == "numberOfVideosWatched"
    assert kinds.camel_case("COUNTRY") == "country"
    h = Harness()
    h.update("u1", MEMBERSHIP_TYPE="gold|silver", AGE=30)
    h.update("u2")  # no fields: no properties (its minimum length is 1)
    h.clock.now += 1
    h.step()
    assert h.client.calls == [[("u1", {"membershipType": "gold|silver", "age": 30}), ("u2", {})]]


def test_calls_carry_at_most_ten_records_and_never_more_than_n_a_second() -> None:
    h = Harness(duration=0.004, catalog_sink_rate_limit_calls_per_second=3)
    for n in range(95):
        h.update(f"u{n}", COUNTRY="x")
    h.clock.now += 1
    delivered = []
    while len(delivered) < 95:
        delivered += h.step()
        h.clock.now += 0.01
    assert [len(c) for c in h.client.calls] == [10] * 9 + [5]
    starts = h.client.started
    # call k + 3 starts a second after call k ended: any 4 calls span more than a second
    assert all(starts[k + 3] - (starts[k] + 0.004) >= 1.0 - 1e-9 for k in range(len(starts) - 3))
    assert starts[-1] - starts[0] < 3.2  # and no slower than that


def test_the_window_counts_ends_so_slow_calls_cannot_bunch_up() -> None:
    clock = Clock()
    window = CallWindow(2, 1.0, clock)
    assert window.wait() == 0.0
    window.finished()
    clock.now += 0.3
    window.finished()
    assert window.wait() == pytest.approx(0.7)  # the first call ended 0.3 s ago
    clock.now += 0.7
    assert window.wait() == 0.0


def test_a_retryable_failure_backs_off_and_sends_the_newest_state() -> None:
    h = Harness()
    failures = iter([client_error("ThrottlingException"), client_error("InternalFailure", 500)])
    h.client.fail = lambda users: next(failures, None)
    h.update("u1", COUNTRY="a")
    h.clock.now += 1
    assert h.step() == []  # throttled: held, backoff 1 s (the cap of the first attempt)
    h.update("u1", COUNTRY="b")  # arrives while the call waits: it joins it
    h.clock.now += 0.9
    assert h.step() == []
    h.clock.now += 0.1
    assert h.step() == []  # 500: backoff 2 s
    h.clock.now += 2
    assert h.step() == [("u1", [0, 1], None)]
    assert [c[0][1]["country"] for c in h.client.calls] == ["a", "b", "b"]


def test_a_refused_record_is_found_by_halving_and_the_rest_delivered() -> None:
    h = Harness()
    h.client.fail = lambda users: client_error("InvalidInputException") if "u7" in users else None
    for n in range(10):
        h.update(f"u{n}", COUNTRY="x")
    h.clock.now += 1
    finished = h.step()
    refused = [(user, reason) for user, _, reason in finished if reason is not None]
    assert refused == [("u7", "InvalidInputException: m")]
    assert sorted(user for user, _, reason in finished if reason is None) == sorted(
        f"u{n}" for n in range(10) if n != 7
    )
    assert [len(c) for c in h.client.calls] == [10, 5, 5, 2, 3, 1, 2]


def test_a_fatal_error_stops_delivery_and_probes_until_fixed() -> None:
    h = Harness()
    broken = [True]
    h.client.fail = lambda users: client_error("ResourceNotFoundException") if broken[0] else None
    h.update("u1")
    h.clock.now += 1
    assert h.step() == [] and h.dispatcher.stopped_by == "ResourceNotFoundException"
    h.update("u2")
    h.clock.now += 5
    assert h.step() == [] and len(h.client.calls) == 1  # nothing new while stopped
    broken[0] = False
    h.clock.now += 5
    assert [user for user, _, _ in h.step()] == ["u1", "u2"]  # the probe, then the rest
    assert h.dispatcher.stopped_by is None


def test_revoked_partitions_leave_the_held_calls() -> None:
    h = Harness()
    h.client.fail = lambda users: client_error("ThrottlingException")
    h.update("a", partition=0)
    h.update("b", partition=1)
    h.clock.now += 1
    h.step()
    h.dispatcher.forget({0})
    h.coalescer.forget({0})
    h.client.fail = lambda users: None
    h.clock.now += 10
    assert [user for user, _, _ in h.step()] == ["b"]
