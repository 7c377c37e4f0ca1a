"""The whole pipeline fed as Amplitude's own senders feed it: the webhook destination's default
payload (Export format), and Amplitude's Python SDK pointed at the webhook."""

import threading
import urllib.request
import uuid
from typing import Any

import orjson
from amplitude import Amplitude, BaseEvent, Config

from devtools.stack import LocalStack
from tests.e2e.test_pipeline import put_events
from tests.fixtures.amplitude_fixtures import (
    WEBHOOK_EVENT_TIME_MS,
    WEBHOOK_INSERT_ID,
    WEBHOOK_USER,
    webhook_default_payload,
    with_ids,
)
from tests.fixtures.kafka_fixture import wait_for
from tests.fixtures.service_process import scraped


def post_as_the_webhook(stack: LocalStack, body: bytes) -> dict[str, Any]:
    """One POST as Amplitude's webhook destination sends it (one event, a custom header)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude",
        data=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Amplitude/Webhook/1.0",
            "Authorization": f"Bearer {stack.env()['AMPLITUDE_WEBHOOK_SECRET']}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return dict(orjson.loads(response.read()))


def delivered(stack: LocalStack, user: str) -> list[dict[str, Any]]:
    return [e for c in put_events(stack) if c.get("userId") == user for e in c["eventList"]]


def duplicates(stack: LocalStack) -> float:
    url = f"http://127.0.0.1:{stack.ports.streams_web}/metrics"
    return scraped(url, "streams_duplicates_total ")


def test_an_export_format_event_posted_twice_is_one_event_at_its_own_time(
    stack: LocalStack,
) -> None:
    user = f"webhook-{uuid.uuid4().hex[:8]}"
    body = with_ids(webhook_default_payload(), {WEBHOOK_USER: user})
    assert post_as_the_webhook(stack, body)["accepted"] == 1
    (event,) = wait_for(lambda: delivered(stack, user), what="the webhook's event at Personalize")
    assert event["sentAt"] == WEBHOOK_EVENT_TIME_MS / 1000  # its event_time, not our clock
    before = duplicates(stack)

    assert post_as_the_webhook(stack, body)["accepted"] == 1  # Amplitude's retry
    wait_for(lambda: duplicates(stack) >= before + 1, what="the retry recognised as a duplicate")
    assert len(delivered(stack, user)) == 1


def test_two_users_with_one_insert_id_both_arrive_and_a_retry_does_not(
    stack: LocalStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    alice, bob, shared = f"alice-{run}", f"bob-{run}", f"shared-insert-{run}"
    bodies = {
        user: with_ids(webhook_default_payload(), {WEBHOOK_USER: user, WEBHOOK_INSERT_ID: shared})
        for user in (alice, bob)
    }
    for body in bodies.values():
        post_as_the_webhook(stack, body)
    wait_for(
        lambda: len(delivered(stack, alice)) == len(delivered(stack, bob)) == 1,
        what="both users' events at Personalize",
    )
    (a,), (b,) = delivered(stack, alice), delivered(stack, bob)
    assert a["eventId"] != b["eventId"]
    before = duplicates(stack)
    post_as_the_webhook(stack, bodies[alice])
    wait_for(lambda: duplicates(stack) >= before + 1, what="alice's retry recognised")
    assert (len(delivered(stack, alice)), len(delivered(stack, bob))) == (1, 1)


def test_amplitudes_python_sdk_is_a_client_of_the_webhook(stack: LocalStack) -> None:
    """Configured with only server_url and an API key, as a new user would."""
    user = f"sdk-{uuid.uuid4().hex[:8]}"
    api_key = stack.env()["INGEST_API_KEYS"].split(",")[0].strip()
    callbacks: list[tuple[str, int, str]] = []
    done = threading.Condition()

    def on_sent(event: BaseEvent, code: int, message: str | None = None) -> None:
        with done:
            callbacks.append((event.insert_id or "", code, message or ""))
            done.notify_all()

    config = Config(
        server_url=f"http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude",
        callback=on_sent,  # how a user sees the outcome; nothing else is configured
    )
    client = Amplitude(api_key, config)
    kinds = [
        ("click", 1.0),
        ("upvote", 2.0),
        ("share", 2.0),
        ("page_view", None),
        ("bookmark", 1.8),
    ]
    try:
        for n, (event_type, _) in enumerate(kinds):
            client.track(
                BaseEvent(
                    event_type=event_type,
                    user_id=user,
                    event_properties={"item_id": f"sdk-item-{n}"},
                )
            )
        client.flush()
        with done:
            assert done.wait_for(lambda: len(callbacks) == len(kinds), timeout=15), callbacks
    finally:
        client.shutdown()
    assert {code for _, code, _ in callbacks} == {200}, callbacks
    weighted = {f"sdk-item-{n}": w for n, (_, w) in enumerate(kinds) if w is not None}
    wait_for(lambda: len(delivered(stack, user)) >= len(weighted), what="the SDK's weighted events")
    events = delivered(stack, user)
    assert {e["itemId"]: e["eventValue"] for e in events} == weighted
    assert len(events) == len({e["eventId"] for e in events}) == len(weighted)  # once each
