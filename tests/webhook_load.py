"""Amplitude as a load: threads posting batches of unique events to the webhook, each batch
retried until it is answered 200 (as Amplitude retries what got no 2xx), every attempt recorded.

The test releases events phase by phase (`release`), so the flow spans every fault it injects,
and reads back which events ingest acknowledged, which eventIds they become at Personalize,
and what each attempt was answered.
"""

import http.client
import queue
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass

import orjson

from schemas.amplitude import normalize, scoped_id
from tests.kafka_fixture import wait_for


def event_id(event: dict[str, object]) -> str:
    """The eventId Personalize receives for an event: from its actor and insert id, by the
    stream stage's own normaliser (schemas/amplitude.py)."""
    key = normalize(orjson.dumps(event), int(time.time() * 1000), 86_400_000).dedup_key
    assert key is not None, "the event has no insert id"
    return scoped_id(key)


@dataclass(frozen=True)
class Attempt:
    started: float  # time.monotonic()
    finished: float
    status: int  # 0: no HTTP answer (connection refused or reset)
    retry_after: str | None


class WebhookLoad:
    def __init__(
        self,
        port: int,
        secret: str,
        posters: int = 2,
        batch_size: int = 50,
        users: int = 500,
    ) -> None:
        self._port, self._secret = port, secret
        self._batch_size, self._users = batch_size, users
        self._run = uuid.uuid4().hex[:8]
        self._next = 0
        self._queue: queue.SimpleQueue[list[dict[str, object]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.accepted: list[dict[str, object]] = []  # events answered 200
        self.released = 0
        self._threads = [
            threading.Thread(target=self._post_loop, name=f"poster-{n}", daemon=True)
            for n in range(posters)
        ]
        for thread in self._threads:
            thread.start()

    def release(self, events: int) -> None:
        """Queue `events` more unique events for the posters."""
        self.released += events
        while events > 0:
            size = min(events, self._batch_size)
            batch = []
            for _ in range(size):
                n = self._next
                self._next += 1
                batch.append(
                    {
                        "event_type": "click",
                        "user_id": f"{self._run}-u{n % self._users}",
                        "session_id": 1700000000000,
                        "time": 1700000000000 + n,
                        "insert_id": f"{self._run}-{n}",
                        "event_properties": {"item_id": f"item-{n % 97}"},
                    }
                )
            self._queue.put(batch)
            events -= size

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def wait_accepted(self, count: int, timeout: float = 120) -> None:
        wait_for(lambda: self.accepted_count() >= count, timeout, f"{count} events answered 200")

    def attempts_between(self, start: float, end: float) -> list[Attempt]:
        """Attempts that started and were answered within [start, end]."""
        with self._lock:
            return [a for a in self.attempts if a.started >= start and a.finished <= end]

    def event_ids(self) -> set[str]:
        with self._lock:
            return {event_id(i) for i in self.accepted}

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(30)

    def _post_loop(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while (batch := self._queue.get()) is not None:
            body = orjson.dumps({"events": batch})
            while True:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
                started = time.monotonic()
                status, retry_after = 0, None
                try:
                    connection.request(
                        "POST",
                        "/webhooks/amplitude",
                        body,
                        {
                            "Authorization": f"Bearer {self._secret}",
                            "Content-Type": "application/json",
                        },
                    )
                    response = connection.getresponse()
                    response.read()
                    status, retry_after = response.status, response.getheader("Retry-After")
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = None
                with self._lock:
                    self.attempts.append(Attempt(started, time.monotonic(), status, retry_after))
                    if status == 200:
                        self.accepted.extend(batch)
                if status == 200:
                    break
                # Amplitude retries after a 503 (its Retry-After is what the test checks);
                # the retry itself is immediate, so the faults are seen by as many attempts.
        if connection is not None:
            connection.close()


def emulator_stats(emulator_url: str) -> dict[str, int]:
    """The emulator's counts (GET /_emulator/stats): calls, events, distinct eventIds."""
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=10) as response:
        return dict(orjson.loads(response.read()))


def emulator_event_ids(emulator_url: str) -> list[str]:
    """Every eventId the emulator accepted, in order, re-sends included."""
    with urllib.request.urlopen(f"{emulator_url}/_emulator/put-events", timeout=30) as response:
        calls = orjson.loads(response.read())
    return [event["eventId"] for call in calls for event in call["eventList"]]
