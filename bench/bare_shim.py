"""The bare HTTP shim the ingest benchmark compares against: the building blocks and nothing else.

aiohttp + uvloop, a msgspec `Raw` split of `{"events": [...]}`, confluent-kafka produce with the
same producer settings as ingest, 200 once Kafka acknowledged every event. No authentication,
no per-event check, no keys, no headers, no metrics, no limits (the "HTTP shim" of
bench/README.md's anchors). Run by bench/ingest_bench.py: `python bench/bare_shim.py PORT`.
"""

import asyncio
import sys
import threading

import msgspec
import uvloop
from aiohttp import web
from confluent_kafka import Producer

from core.kafka import producer_config
from ingest.settings import IngestSettings


class _Envelope(msgspec.Struct):
    events: list[msgspec.Raw]


def main(port: int) -> None:
    settings = IngestSettings()
    producer = Producer(
        producer_config(
            settings,
            **{
                "linger.ms": settings.ingest_linger_ms,
                "message.timeout.ms": int(settings.ingest_ack_timeout_seconds * 1000),
            },
        )
    )

    def poll_forever() -> None:
        while True:
            producer.poll(0.1)

    threading.Thread(target=poll_forever, daemon=True).start()
    decode = msgspec.json.Decoder(_Envelope).decode
    topic = settings.raw_topic

    async def webhook(request: web.Request) -> web.Response:
        events = decode(await request.read()).events
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        pending = [len(events)]

        def delivered(error: object, _message: object) -> None:
            pending[0] -= 1
            if pending[0] == 0:
                loop.call_soon_threadsafe(done.set_result, None)

        for raw in events:
            producer.produce(topic, raw, on_delivery=delivered)
        await done
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=settings.ingest_max_body_bytes)
    app.router.add_post("/webhooks/amplitude", webhook)
    app.router.add_get("/readyz", ready)
    web.run_app(
        app, host="127.0.0.1", port=port, print=None, access_log=None, loop=uvloop.new_event_loop()
    )
    producer.flush(10)


if __name__ == "__main__":
    main(int(sys.argv[1]))
