"""Negative feedback on `make run`: what a user flagged or hid never comes back to them."""

import itertools
import urllib.request
import uuid
from typing import Any

import orjson

from devtools.stack import LocalStack
from tests.e2e.test_pipeline import post, put_events, seed_event
from tests.fixtures.kafka_fixture import wait_for

RUN = uuid.uuid4().hex[:6]
_POLLS = itertools.count()


def recommended(stack: LocalStack, user: str, query: str = "") -> list[str]:
    count = 100 + next(_POLLS) % 400  # a new num_results asks Personalize, not the cache
    url = f"http://127.0.0.1:{stack.ports.recommendations}/recommendations/{user}"
    bearer = {"Authorization": f"Bearer {stack.api_token}"}
    request = urllib.request.Request(f"{url}?num_results={count}{query}", headers=bearer)
    with urllib.request.urlopen(request, timeout=5) as response:
        body: dict[str, Any] = orjson.loads(response.read())
    return [item["item_id"] for item in body["items"]]


def at_emulator(stack: LocalStack, user: str, event_type: str) -> bool:
    return any(
        e["eventType"] == event_type
        for call in put_events(stack)
        if call.get("userId") == user
        for e in call["eventList"]
    )


def test_flagged_and_hidden_items_never_come_back_while_an_upvoter_gets_them(
    stack: LocalStack,
) -> None:
    fan, critic, hider = f"fan-{RUN}", f"critic-{RUN}", f"hider-{RUN}"
    flagged, hidden = f"flagged-{RUN}", f"hidden-{RUN}"
    post(stack, {"events": [seed_event("upvote", fan, flagged, 1)]})
    post(stack, {"events": [seed_event("upvote", fan, hidden, 2)]})
    post(stack, {"events": [seed_event("flag_content", critic, flagged, 3)]})
    post(stack, {"events": [seed_event("hide", hider, hidden, 4)]})

    # The upvoter can be recommended both (the filter is the API's default, for them too).
    wait_for(lambda: {flagged, hidden} <= set(recommended(stack, fan)), what="fan's items")
    wait_for(lambda: at_emulator(stack, critic, "flag"), what="the flag at Personalize")
    wait_for(lambda: at_emulator(stack, hider, "negative"), what="the hide at Personalize")
    for _ in range(3):
        assert flagged not in recommended(stack, critic)
        assert hidden not in recommended(stack, hider)
    # Not by chance: without the filter, Personalize would offer them.
    assert flagged in recommended(stack, critic, "&filter_arn=")
    assert hidden in recommended(stack, hider, "&filter_arn=")
