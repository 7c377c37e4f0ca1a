"""Poison events interleaved with good ones: every good event reaches Personalize once, every
poison event is rejected in ingest's answer or dead-lettered with its reason, no process dies."""

import urllib.error
import urllib.request
import uuid
from typing import Any

import orjson

from core.settings import KafkaSettings
from devtools.stack import DEV_SECRET, LocalStack
from tests.e2e.test_pipeline import put_events
from tests.fixtures.kafka_fixture import TopicReader, wait_for

RUN = uuid.uuid4().hex[:6]
VALID_USERS, PER_USER = 50, 20  # 1,000 valid events


def post_bytes(stack: LocalStack, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude",
        data=body,
        headers={"Authorization": f"Bearer {DEV_SECRET}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(orjson.loads(response.read()))
    except urllib.error.HTTPError as error:
        return error.code, dict(orjson.loads(error.read()))


def valid(user: int, n: int) -> bytes:
    return orjson.dumps(
        {
            "event_type": "click",
            "user_id": f"valid-{user}-{RUN}",
            "session_id": 1700000000000,
            "time": 1700000000000 + n,
            "insert_id": f"valid-{user}-{n}-{RUN}",
            "event_properties": {"item_id": f"item-{n}"},
        }
    )


def poison_event(name: str, **fields: Any) -> bytes:
    event = {
        "event_type": "click",
        "user_id": f"poison-{name}-{RUN}",
        "insert_id": f"poison-{name}-{RUN}",
        "event_properties": {"item_id": "item-p"},
        **fields,
    }
    return orjson.dumps(event)


def with_raw_time(name: str, literal: bytes) -> bytes:
    """An event whose `time` is a JSON number Python's JSON writers cannot write."""
    return poison_event(name, time=0).replace(b'"time":0', b'"time":' + literal)


# Interleaved into the valid events' requests (ingest accepts the request, one event each).
POISON = {
    "microseconds": poison_event("microseconds", time=1700000000000000),
    "year-10000": poison_event("year-10000", time=253402300800000),
    "1e400": with_raw_time("1e400", b"1e400"),
    "400-digits": with_raw_time("400-digits", b"9" * 400),
    "1e20": with_raw_time("1e20", b"1e20"),
    "2mb-insert-id": poison_event("2mb-insert-id", insert_id="x" * 2_000_000),
    "null-event": b"null",
    "int-user-id": orjson.dumps({"event_type": "click", "user_id": 12345}),
    "invalid-utf8": poison_event("invalid-utf8", session_id=1).replace(b"item-p", b"item-\xff"),
    "long-item-id": poison_event("long-item-id", event_properties={"item_id": "i" * 300}),
    "lone-surrogate": poison_event("lone-surrogate", insert_id="x").replace(b'"x"', b'"\\ud800"'),
}
# Whole requests of their own: refused as a whole (400), nothing else in them.
POISON_BODIES = {
    "null-body": b"null",
    "not-json": b'{"events": [{"event_type": "cli',
}


def test_poison_events_neither_stop_a_stage_nor_hide(stack: LocalStack) -> None:
    pids = stack.pids()
    events = [valid(u, n) for n in range(PER_USER) for u in range(VALID_USERS)]
    answers: dict[str, str] = {}  # poison name -> the reason ingest gave
    for r, name in enumerate(POISON):  # one request per poison event, at a different place
        batch = events[r :: len(POISON)]
        at = (r * 7) % len(batch)
        batch.insert(at, POISON[name])
        status, answer = post_bytes(stack, b'{"events": [' + b",".join(batch) + b"]}")
        assert status == 200, answer
        assert answer["accepted"] + answer["rejected"] == len(batch)
        for error in answer["errors"]:
            assert error["index"] == at, (name, answer["errors"])  # only the poison event
            answers[name] = error["reason"]
    for name, body in POISON_BODIES.items():
        status, answer = post_bytes(stack, body)
        assert status == 400, (name, answer)
        answers[name] = answer["error"]

    def delivered() -> list[dict[str, Any]]:
        return [
            {**event, "userId": call.get("userId")}
            for call in put_events(stack)
            if str(call.get("userId", "")).endswith(RUN)
            for event in call["eventList"]
        ]

    wait_for(
        lambda: sum(e["userId"].startswith("valid-") for e in delivered()) >= 1000,
        timeout=90,
        what="the 1,000 valid events at the emulator",
    )
    accepted_poison = [name for name in POISON if name not in answers]
    default = KafkaSettings.model_fields["raw_dead_letter_topic"].default
    reader = TopicReader(stack.bootstrap or "", stack.names.get("RAW_DEAD_LETTER_TOPIC", default))
    try:

        def dead_letters() -> dict[str, str]:
            found = {}
            for message in reader.poll():
                key = (message.key() or b"").decode("utf-8", "replace")
                for name in accepted_poison:
                    if key == f"poison-{name}-{RUN}":
                        found[name] = dict(message.headers() or [])["dead_letter_reason"].decode()
            return found

        # Each accepted poison event is dead-lettered, or (a time in microseconds, should the
        # stage classify times by magnitude) delivered at its true time.
        def settled() -> dict[str, str] | None:
            found = dead_letters()
            at_emulator = {e["userId"] for e in delivered()}
            for name in accepted_poison:
                if name not in found and f"poison-{name}-{RUN}" in at_emulator:
                    found[name] = "delivered"
            return found if set(found) == set(accepted_poison) else None

        outcomes = wait_for(settled, timeout=60, what="every accepted poison event's outcome")
    finally:
        reader.close()

    got = delivered()
    valid_events = [e for e in got if e["userId"].startswith("valid-")]
    assert len(valid_events) == 1000 and len({e["eventId"] for e in valid_events}) == 1000
    assert answers["2mb-insert-id"] == "event_too_large"
    assert answers["null-event"] == "not_an_object"
    assert answers["int-user-id"] == "user_id_not_a_string"
    for name, outcome in outcomes.items():
        if outcome == "delivered":
            assert name == "microseconds", outcome
            (event,) = [e for e in got if e["userId"] == f"poison-{name}-{RUN}"]
            assert event["sentAt"] == 1700000000
        else:
            assert outcome, name  # a named reason
    assert set(answers) | set(outcomes) == set(POISON) | set(POISON_BODIES)
    print({**answers, **outcomes})
    stack.check_alive()
    assert stack.pids() == pids  # no worker restarted
