"""Users and items as a user runs the pipeline: Amplitude's user records and events' properties
reach Personalize's PutUsers and PutItems, once per change, through the default rules."""

import urllib.request
import uuid
from typing import Any

import orjson

from devtools.stack import LocalStack
from tests.e2e.test_pipeline import post
from tests.fixtures.kafka_fixture import wait_for

RUN = uuid.uuid4().hex[:6]


def calls(stack: LocalStack, kind: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{stack.ports.emulator}/_emulator/put-{kind}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return [c["body"] for c in orjson.loads(response.read())]


def user_records(stack: LocalStack, user: str) -> list[dict[str, Any]]:
    return [u for c in calls(stack, "users") for u in c["users"] if u["userId"] == user]


def event(user: str, n: int, platform: str) -> dict[str, Any]:
    """An Export-format event, carrying the user's top-level fields as Amplitude sends them."""
    return {
        "event_type": "click",
        "user_id": user,
        "session_id": 1700000000000,
        "event_time": "2023-11-14 22:13:20.000",
        "$insert_id": f"{user}-{n}",
        "country": "Germany",
        "language": "German",
        "platform": platform,
        "user_properties": {"plan": "pro"},
        "event_properties": {"item_id": f"item-{RUN}", "category": "news"},
    }


def test_a_user_record_then_events_give_one_put_users_record_per_change(
    stack: LocalStack,
) -> None:
    user = f"user-{RUN}"
    identify = {  # Amplitude's Identify format: no event type, the user's properties
        "user_id": user,
        "country": "Germany",
        "language": "German",
        "platform": "Web",
        "user_properties": {"plan": "pro"},
    }
    post(stack, identify)
    wait_for(lambda: user_records(stack, user), timeout=20, what="the user at PutUsers")
    first = user_records(stack, user)
    assert len(first) == 1
    assert orjson.loads(first[0]["properties"]) == {
        "country": "Germany",
        "language": "German",
        "platform": "Web",
    }

    post(stack, event(user, 1, "Web"))  # the same fields again: no new record
    post(stack, event(user, 2, "iOS"))  # the platform changed: one more record
    wait_for(lambda: len(user_records(stack, user)) == 2, timeout=20, what="the changed user")
    assert orjson.loads(user_records(stack, user)[1]["properties"])["platform"] == "iOS"

    wait_for(
        lambda: [
            i for c in calls(stack, "items") for i in c["items"] if i["itemId"] == f"item-{RUN}"
        ],
        timeout=20,
        what="the item at PutItems",
    )
    items = [i for c in calls(stack, "items") for i in c["items"] if i["itemId"] == f"item-{RUN}"]
    assert orjson.loads(items[-1]["properties"]) == {"category": "news"}
    assert len(user_records(stack, user)) == 2  # nothing more arrived meanwhile
