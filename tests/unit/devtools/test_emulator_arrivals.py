"""The emulator's arrival times: when each accepted PutEvents came in, before its answer's delay."""

import time

import orjson
from aiohttp.test_utils import TestClient, TestServer

from devtools.emulator import EmulatorSettings, create_app

LATENCY_S = 0.2


def _body(user: str) -> bytes:
    event = {"eventType": "click", "eventId": f"{user}-1", "itemId": "i1", "sentAt": 1.7e9}
    return orjson.dumps(
        {"trackingId": "t1", "userId": user, "sessionId": "s1", "eventList": [event]}
    )


async def test_each_accepted_call_has_its_arrival_time_taken_before_the_delay() -> None:
    app = create_app(EmulatorSettings(latency_ms=LATENCY_S * 1000))
    async with TestClient(TestServer(app)) as client:
        before = time.time()
        assert (await client.post("/events", data=_body("u1"))).status == 200
        answered_first = time.time()
        assert (await client.post("/events", data=b'{"trackingId": "t1"}')).status == 400
        assert (await client.post("/events", data=_body("u2"))).status == 200
        answered = time.time()

        arrivals = await (await client.get("/_emulator/put-events/arrivals")).json()
        calls = await (await client.get("/_emulator/put-events")).json()
        assert [call["userId"] for call in calls] == ["u1", "u2"]  # the refused one: no arrival
        assert len(arrivals) == 2
        first, second = arrivals
        # Taken when the request came in, not when it was answered LATENCY_S later.
        assert before <= first <= answered_first - LATENCY_S
        assert answered_first <= second <= answered - LATENCY_S

        assert (await client.delete("/_emulator/put-events")).status == 204
        assert await (await client.get("/_emulator/put-events/arrivals")).json() == []
