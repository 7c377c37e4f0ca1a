"""The webhook's HTTP routes: POST /webhooks/amplitude and /openapi.json on the public listener
(HTTPS when given a certificate); /healthz, /readyz and /metrics on the internal one.

A request is authenticated, size-checked, decompressed (bounded), split into raw events and
written to Kafka; the answer is 200 only once Kafka acknowledged every event. Failures are
classified in one place, `_handle_webhook`: the sender's fault (400/401/413/415: retrying the
same request will not help) or Kafka's (503 + Retry-After: the sender retries, nothing is lost).

Answers also speak Amplitude's HTTP V2 API, so its SDKs can use the webhook as `server_url`:
every answer has `code`; a 200 has `events_ingested`, `payload_size_bytes` and
`server_upload_time`; an HTTP V2 body (one with `api_key`) some of whose events were rejected
gets V2's 400 with the rejected indices (`events_with_missing_fields`,
`events_with_invalid_fields`): the SDK reports those as failed and re-sends the others, which
the stream stage drops as duplicates. Our own fields (`received`, `accepted`, `errors`, ...)
are always there beside them. Other bodies (Amplitude's webhook destination retries any
non-2xx) keep a 200 that lists the rejected events in `errors`.
"""

import asyncio
import contextlib
import hmac
import ipaddress
import itertools
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import orjson
from aiohttp import hdrs, web

from core import http_routes
from core.kafka import producer_config
from core.record_size import DEAD_LETTER_SAMPLE_BYTES, fit_dead_letter, record_size
from core.secret_strength import refuse_weak_secrets
from ingest import metrics
from ingest.bodies import BodyError, envelope_api_key, gunzip, inspect_events, split_events
from ingest.openapi import openapi_document
from ingest.producer import DeliveryError, KafkaWriter, Record
from ingest.settings import IngestSettings
from ingest.signatures import SignatureChecker
from ingest.tls import ReloadingTLS

log = logging.getLogger(__name__)

_JSON_TYPES = frozenset({"application/json", "text/json"})
_NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
_GZIP = frozenset({"gzip", "x-gzip"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SIGNATURE = web.RequestKey("signature", bytes)
_INLINE_GUNZIP_BYTES = 64 * 1024  # larger gzip bodies are inflated off the event loop
# HTTP V2's 400 names the field an event lacks; other rejections are listed by our reason.
_MISSING_FIELDS = {"missing_event_type": "event_type", "missing_user_and_device_id": "user_id"}


class _Webhook:
    """The POST handler, with everything it needs resolved once at start-up."""

    def __init__(self, settings: IngestSettings, writer: KafkaWriter) -> None:
        self.settings = settings
        self.writer = writer
        self._raw_topic = settings.raw_topic
        self._dead_letter_topic = settings.raw_dead_letter_topic
        self._secret = _secret_bytes(settings.amplitude_webhook_secret)
        self._api_keys = settings.api_keys
        # The SDKs recognise the prefix: they stop retrying a request that cannot succeed.
        self._no_credential = (
            "Invalid API key: the body's api_key is not one of INGEST_API_KEYS and there is "
            f"no shared secret in {settings.ingest_secret_header}"
        )
        hmac_key = _secret_bytes(settings.ingest_hmac_secret)
        self._signatures = None
        if hmac_key is not None:
            self._signatures = SignatureChecker(
                hmac_key,
                settings.ingest_hmac_tolerance_seconds,
                settings.ingest_hmac_replay_memory,
            )
        self._secret_header = settings.ingest_secret_header
        self._hmac_header = settings.ingest_hmac_header
        self._timestamp_header = settings.ingest_hmac_timestamp_header
        self._max_body = settings.ingest_max_body_bytes
        self._max_events = settings.ingest_max_events
        self._max_event_bytes = settings.ingest_max_event_bytes
        self._max_record_bytes = settings.kafka_message_max_bytes
        self._ack_timeout = settings.ingest_ack_timeout_seconds
        self._retry_after = str(settings.ingest_retry_after_seconds)
        self._statuses: dict[int, Any] = {}
        bearer = self._secret_header.lower() == "authorization"
        self._challenge = {"WWW-Authenticate": 'Bearer realm="ingest"'} if bearer else None
        # Request ids: random per process, then a counter (cheaper than a uuid4 a request).
        self._id_prefix = uuid.uuid4().hex[:12]
        self._id_counter = itertools.count(1)

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        metrics.IN_FLIGHT.inc()
        request_id = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = f"{self._id_prefix}-{next(self._id_counter)}"
        status = 0
        try:
            status, body, headers = await self._handle_webhook(request, request_id)
        except ConnectionError:
            raise  # the client went away mid-body: there is no one to answer
        except Exception:
            # A bug, not the sender's fault nor Kafka's: counted as a 500 for the alert.
            log.exception("webhook failed", extra={"request_id": request_id})
            status, body, headers = 500, {"error": "internal error; retry"}, None
        finally:
            metrics.IN_FLIGHT.dec()
            if status != 200 and _SIGNATURE in request and self._signatures is not None:
                # Not written: the sender's retry with the same signature is not a replay.
                self._signatures.release(request[_SIGNATURE])
        body["code"] = status  # HTTP V2's field: Amplitude's SDKs read the status from it
        counter = self._statuses.get(status)
        if counter is None:
            counter = self._statuses[status] = metrics.REQUESTS.labels(status=str(status))
        counter.inc()
        if status != 200:
            body["request_id"] = request_id
            level = logging.WARNING if status in (401, 500, 503) else logging.INFO
            # The error names what was wrong (a header value at most), never the body.
            log.log(
                level,
                "webhook refused",
                extra={"request_id": request_id, "status": status, "error": body["error"][:300]},
            )
        response = web.Response(
            status=status, body=orjson.dumps(body), content_type="application/json"
        )
        response.headers["X-Request-Id"] = request_id
        if headers:
            response.headers.update(headers)
        metrics.REQUEST_DURATION.observe(time.perf_counter() - started)
        return response

    async def _handle_webhook(
        self, request: web.Request, request_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        secret_ok = self._secret is not None and self._secret_ok(request)
        if self._secret is not None and not secret_ok and not self._api_keys:
            return (
                401,
                {"error": f"missing or wrong shared secret in {self._secret_header}"},
                self._challenge,
            )

        length = request.content_length
        if length is not None and length > self._max_body:
            return 413, {"error": f"body over {self._max_body} bytes"}, None
        try:
            raw_body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return 413, {"error": f"body over {self._max_body} bytes"}, None
        metrics.BODY_SIZE.observe(len(raw_body))
        received_ms = int(time.time() * 1000)

        if self._signatures is not None:
            refused, signature = self._signatures.check(
                request.headers.get(self._timestamp_header, ""),
                request.headers.get(self._hmac_header, ""),
                raw_body,
            )
            if refused is not None:
                where = f"{self._hmac_header}, {self._timestamp_header}"
                return 401, {"error": f"HMAC refused ({where}): {refused}"}, None
            request[_SIGNATURE] = signature  # released by `handle` unless the events are written

        declared = hdrs.CONTENT_TYPE in request.headers
        content_type = request.content_type if declared else "application/json"
        ndjson = content_type in _NDJSON_TYPES
        if not ndjson and content_type not in _JSON_TYPES:
            return 415, {"error": f"unsupported Content-Type {content_type!r}: send JSON"}, None
        encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        gzipped = encoding in _GZIP
        if not gzipped and encoding not in ("identity", ""):
            return 415, {"error": f"unsupported Content-Encoding {encoding!r}: use gzip"}, None

        try:
            body = raw_body
            if gzipped and len(raw_body) > _INLINE_GUNZIP_BYTES:
                # zlib releases the GIL: inflating megabytes in a thread keeps the loop serving.
                loop = asyncio.get_running_loop()
                body = await loop.run_in_executor(None, gunzip, raw_body, self._max_body)
            elif gzipped:
                body = gunzip(raw_body, self._max_body)
            events = split_events(body, ndjson)
        except BodyError as exc:
            if self._api_keys and not secret_ok:  # no credential could be read: say only that
                return 401, {"error": self._no_credential}, self._challenge
            return exc.status, {"error": str(exc)}, None
        if self._api_keys and not secret_ok and not self._api_key_ok(envelope_api_key(body)):
            return 401, {"error": self._no_credential}, self._challenge
        if len(events) > self._max_events:
            return 413, {"error": f"{len(events)} events > limit {self._max_events}"}, None

        records, rejected = self._records(events, request_id, content_type)
        try:
            await self.writer.write(records, self._ack_timeout)
        except (TimeoutError, DeliveryError) as exc:
            metrics.PRODUCE_ERRORS.inc()
            log.warning(
                "kafka did not acknowledge",
                extra={"request_id": request_id, "error": str(exc) or "timed out"},
            )
            return (
                503,
                {"error": "events not acknowledged by Kafka in time; retry"},
                {"Retry-After": self._retry_after},
            )

        accepted = len(events) - len(rejected)
        metrics.ACCEPTED.inc(accepted)
        if rejected:
            metrics.REJECTED.inc(len(rejected))
            metrics.DEAD_LETTERED.inc(len(rejected))
            log.info(
                "events dead-lettered",
                extra={"request_id": request_id, "rejected": len(rejected), "accepted": accepted},
            )
        answer = {
            "events_ingested": accepted,
            "payload_size_bytes": len(raw_body),
            "server_upload_time": received_ms,
            "received": len(events),
            "accepted": accepted,
            "rejected": len(rejected),
            "errors": rejected,
            "request_id": request_id,
        }
        if rejected and envelope_api_key(body) is not None:
            return 400, {**_v2_rejections(rejected, len(events)), **answer}, None
        return 200, answer, None

    def _api_key_ok(self, presented: str | None) -> bool:
        """Constant-time against every configured key (no early exit on a match)."""
        candidate = (presented or "").encode("utf-8", "surrogateescape")
        matched = False
        for key in self._api_keys:
            matched |= hmac.compare_digest(candidate, key)
        return matched and presented is not None

    def _records(
        self, events: list[Any], request_id: str, content_type: str
    ) -> tuple[list[Record], list[dict[str, Any]]]:
        """Raw-topic records for good events; dead-letter records (with the reason) for bad."""
        common = [
            ("received_at_ms", b"%d" % (time.time() * 1000)),
            ("request_id", request_id.encode()),
            ("content_type", content_type.encode("utf-8", "replace")[:256]),
        ]
        records: list[Record] = []
        rejected: list[dict[str, Any]] = []
        raw_topic, max_event_bytes = self._raw_topic, self._max_event_bytes
        # An event whose record (its key, the user or device id, counts too) Kafka would
        # refuse is rejected alone: produced, it would fail the whole request, retry after
        # retry. The headers are the same for every event: sized once.
        room = self._max_record_bytes - record_size(None, None, common)
        append = records.append
        for index, (raw, (key, reason)) in enumerate(
            zip(events, inspect_events(events, max_event_bytes), strict=True)
        ):
            if reason is None:
                if len(raw) + len(key) <= room:  # type: ignore[arg-type]  # a key: never None
                    append((raw_topic, key, raw, common))
                    continue
                reason = "event_too_large"
            rejected.append({"index": index, "reason": reason})
            headers = [
                *common,
                ("dead_letter_reason", reason.encode()),
                ("stage", b"ingest"),
                ("event_index", str(index).encode()),
            ]
            value = raw
            if len(raw) > max_event_bytes:
                value = bytes(raw)[:DEAD_LETTER_SAMPLE_BYTES]
                headers.append(("truncated_from_bytes", str(len(raw)).encode()))
            _, value, headers = fit_dead_letter(None, value, headers, self._max_record_bytes)
            records.append((self._dead_letter_topic, None, value, headers))
        return records, rejected

    def _secret_ok(self, request: web.Request) -> bool:
        presented = request.headers.get(self._secret_header, "")
        if presented[:7].lower() == "bearer ":
            presented = presented[7:]
        return hmac.compare_digest(
            presented.strip().encode("utf-8", "surrogateescape"), self._secret or b""
        )


def _v2_rejections(rejected: list[dict[str, Any]], received: int) -> dict[str, Any]:
    """HTTP V2's 400 body for rejected events: their indices by missing or invalid field."""
    missing: dict[str, list[int]] = {}
    invalid: dict[str, list[int]] = {}
    for error in rejected:
        field = _MISSING_FIELDS.get(error["reason"])
        target, name = (missing, field) if field else (invalid, error["reason"])
        target.setdefault(name, []).append(error["index"])
    return {
        "error": f"{len(rejected)} of {received} events rejected (see errors); the rest accepted",
        "events_with_missing_fields": missing,
        "events_with_invalid_fields": invalid,
    }


def _secret_bytes(secret: Any) -> bytes | None:
    return None if secret is None else secret.get_secret_value().encode()


_SETTINGS = web.AppKey("settings", IngestSettings)
_WRITER = web.AppKey("writer", KafkaWriter)
_STOPPING = web.AppKey("stopping", asyncio.Event)


def internal_app(public: web.Application) -> web.Application:
    """The internal listener's app (/healthz, /readyz, /metrics) for the webhook `public`."""

    async def readyz(_: web.Request) -> web.Response:
        if public[_STOPPING].is_set():
            return web.json_response({"status": "shutting down"}, status=503)
        loop = asyncio.get_running_loop()
        reachable = await loop.run_in_executor(None, public[_WRITER].broker_reachable, 2.0)
        if reachable:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "kafka unreachable"}, status=503)

    return http_routes.internal_app(readyz)


async def _warn_if_unauthenticated(app: web.Application) -> None:
    if not app[_SETTINGS].authenticated:
        log.warning(
            "INGEST_ALLOW_UNAUTHENTICATED is set and no secret is: the webhook accepts "
            "unauthenticated posts; never run it like this where others can reach the port"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" (every address)


async def _stop_being_ready(app: web.Application) -> None:
    app[_STOPPING].set()


async def _close_writer(app: web.Application) -> None:
    """After in-flight requests finished: flush what librdkafka still holds."""
    left = await asyncio.get_running_loop().run_in_executor(None, app[_WRITER].close)
    if left:
        log.error("producer closed with undelivered messages", extra={"undelivered": left})
    else:
        log.info("producer flushed")


def create_app(settings: IngestSettings) -> web.Application:
    # Bodies are read compressed (auto_decompress off) so that `gunzip` can bound their size.
    app = web.Application(
        client_max_size=settings.ingest_max_body_bytes,
        handler_args={"auto_decompress": False},
    )
    writer = KafkaWriter(
        producer_config(
            settings,
            **{
                "message.timeout.ms": int(settings.ingest_ack_timeout_seconds * 1000),
                "linger.ms": settings.ingest_linger_ms,
            },
        )
    )
    app[_SETTINGS] = settings
    app[_WRITER] = writer
    app[_STOPPING] = asyncio.Event()
    webhook = _Webhook(settings, writer)
    for path in ("/webhooks/amplitude", "/webhooks/amplitude/"):
        app.router.add_post(path, webhook.handle)
    openapi = orjson.dumps(openapi_document(settings))

    async def _openapi(_: web.Request) -> web.Response:
        return web.Response(body=openapi, content_type="application/json")

    app.router.add_get("/openapi.json", _openapi)
    app.on_startup.append(_warn_if_unauthenticated)
    app.on_shutdown.append(_stop_being_ready)
    app.on_cleanup.append(_close_writer)
    return app


def listener_tls(settings: IngestSettings) -> ReloadingTLS | None:
    """The webhook's TLS when configured; else None, with a warning off loopback."""
    if settings.ingest_tls_cert_file is not None and settings.ingest_tls_key_file is not None:
        return ReloadingTLS(settings.ingest_tls_cert_file, settings.ingest_tls_key_file)
    if not _loopback(settings.ingest_host):
        log.warning(
            "the webhook serves plain HTTP on a non-loopback address: its secret crosses the "
            "network in clear text unless a proxy in front terminates TLS; set "
            "INGEST_TLS_CERT_FILE and INGEST_TLS_KEY_FILE",
            extra={"host": settings.ingest_host},
        )
    return None


def run(settings: IngestSettings) -> None:
    """Serve until SIGTERM/SIGINT; then stop accepting, finish in-flight requests, flush.

    Refuses to start with a weak secret outside the local stack (WeakSecretError).
    """
    import uvloop

    refuse_weak_secrets(settings.local_stack, settings.secrets())
    app = create_app(settings)
    http_routes.serve_beside(
        app, internal_app(app), settings.ingest_internal_host, settings.ingest_internal_port
    )
    tls = listener_tls(settings)
    if tls is not None:
        interval = settings.ingest_tls_reload_interval_seconds
        app.cleanup_ctx.append(_background(lambda: tls.watch(interval)))
    log.info(
        "ingest listening",
        extra={
            "port": settings.ingest_port,
            "tls": tls is not None,
            "internal_port": settings.ingest_internal_port,
        },
    )
    web.run_app(
        app,
        host=settings.ingest_host,
        port=settings.ingest_port,
        ssl_context=tls.listening if tls else None,
        print=None,
        access_log=None,
        shutdown_timeout=settings.ingest_shutdown_timeout_seconds,
        loop=uvloop.new_event_loop(),
    )


def _background(work: Callable[[], Coroutine[Any, Any, None]]) -> Any:
    """A cleanup context running `work()` for the app's lifetime, cancelled at cleanup."""

    async def context(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(work())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
