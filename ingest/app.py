"""The webhook's HTTP routes: POST /webhooks/amplitude, /healthz, /readyz, /metrics."""

import asyncio
import hmac
import logging
import time
import uuid
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ingest import metrics
from ingest.bodies import BodyError, check_event, event_key, split_events
from ingest.producer import DeliveryError, KafkaWriter, Record
from ingest.settings import IngestSettings
from pipeline.kafka import producer_config

log = logging.getLogger(__name__)

_SETTINGS = web.AppKey("settings", IngestSettings)
_WRITER = web.AppKey("writer", KafkaWriter)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    metrics.REQUESTS.labels(status=str(status)).inc()
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _authorized(request: web.Request, settings: IngestSettings) -> bool:
    if settings.amplitude_webhook_secret is None:
        return True
    expected = b"Bearer " + settings.amplitude_webhook_secret.get_secret_value().encode()
    presented = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(presented, expected)


async def _webhook(request: web.Request) -> web.Response:
    started = time.perf_counter()
    try:
        return await _handle_webhook(request)
    finally:
        metrics.REQUEST_DURATION.observe(time.perf_counter() - started)


async def _handle_webhook(request: web.Request) -> web.Response:
    settings = request.app[_SETTINGS]
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    if not _authorized(request, settings):
        return _json(401, {"error": "missing or wrong credentials", "request_id": request_id})
    try:
        body = await request.read()
        events = split_events(body)
    except web.HTTPRequestEntityTooLarge:
        return _json(413, {"error": f"body over {settings.ingest_max_body_bytes} bytes"})
    except BodyError as exc:
        return _json(exc.status, {"error": str(exc), "request_id": request_id})
    if len(events) > settings.ingest_max_events:
        return _json(413, {"error": f"{len(events)} events > limit {settings.ingest_max_events}"})

    common = [
        ("received_at_ms", str(int(time.time() * 1000)).encode()),
        ("request_id", request_id.encode()),
        ("content_type", request.content_type.encode()),
    ]
    records: list[Record] = []
    rejected: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        reason = check_event(event)
        value = orjson.dumps(event)
        if reason is None:
            records.append((settings.raw_topic, event_key(event), value, common))
        else:
            rejected.append({"index": index, "reason": reason})
            headers = [*common, ("dead_letter_reason", reason.encode()), ("stage", b"ingest")]
            records.append((settings.raw_dead_letter_topic, b"", value, headers))

    try:
        await asyncio.wait_for(
            request.app[_WRITER].write(records), settings.ingest_ack_timeout_seconds
        )
    except (TimeoutError, DeliveryError) as exc:
        metrics.PRODUCE_ERRORS.inc()
        log.warning(
            "kafka did not acknowledge", extra={"request_id": request_id, "error": str(exc)}
        )
        return _json(
            503,
            {"error": "events not acknowledged by Kafka; retry", "request_id": request_id},
            headers={"Retry-After": "5"},
        )
    accepted = len(events) - len(rejected)
    metrics.EVENTS.labels(outcome="accepted").inc(accepted)
    metrics.EVENTS.labels(outcome="rejected").inc(len(rejected))
    metrics.EVENTS.labels(outcome="dead_lettered").inc(len(rejected))
    return _json(
        200,
        {
            "received": len(events),
            "accepted": accepted,
            "rejected": len(rejected),
            "errors": rejected,
            "request_id": request_id,
        },
    )


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    loop = asyncio.get_running_loop()
    reachable = await loop.run_in_executor(None, request.app[_WRITER].broker_reachable, 2.0)
    if reachable:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "kafka unreachable"}, status=503)


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def _close_writer(app: web.Application) -> None:
    left = await asyncio.get_running_loop().run_in_executor(None, app[_WRITER].close)
    if left:
        log.error("producer closed with undelivered messages", extra={"undelivered": left})


def create_app(settings: IngestSettings) -> web.Application:
    app = web.Application(client_max_size=settings.ingest_max_body_bytes)
    app[_SETTINGS] = settings
    app[_WRITER] = KafkaWriter(producer_config(settings))
    for path in ("/webhooks/amplitude", "/webhooks/amplitude/"):
        app.router.add_post(path, _webhook)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.on_cleanup.append(_close_writer)
    return app


def run(settings: IngestSettings) -> None:
    import uvloop

    if settings.amplitude_webhook_secret is None:
        log.warning(
            "AMPLITUDE_WEBHOOK_SECRET is not set: the webhook accepts unauthenticated posts"
        )
    log.info("ingest listening", extra={"port": settings.ingest_port})
    web.run_app(
        create_app(settings),
        host=settings.ingest_host,
        port=settings.ingest_port,
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
