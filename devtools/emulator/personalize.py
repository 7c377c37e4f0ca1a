"""The emulator's HTTP server: PutEvents as AWS answers it, plus a read-back for people and tests.

Routes:
- `POST /events` (personalize-events PutEvents): validated against botocore's model; a bad request
  gets 400 `InvalidInputException` in the rest-json error shape botocore parses.
- `GET /_emulator/put-events`: every accepted PutEvents body, in arrival order (JSON list).
- `GET /_emulator/put-events/arrivals`: when each of those arrived (epoch seconds, taken as the
  request came in, before any injected latency), in the same order: a benchmark's end of the
  line for per-event latency (bench/e2e_bench.py).
- `POST /users`, `POST /items` (PutUsers, PutItems), read back at `GET /_emulator/put-users`
  and `GET /_emulator/put-items` with each call's arrival time (devtools/emulator/catalog.py);
  the same faults and latency as PutEvents.
- `DELETE /_emulator/put-events`: forget them.
- `POST /recommendations` (personalize-runtime GetRecommendations): for the campaigns in
  `EMULATOR_CAMPAIGN_ARNS` (others: 404 ResourceNotFoundException), ranked from the PutEvents
  received by the latest solution's event weights, through `filterArn`'s filter if given
  (see devtools/emulator/recommendations.py, devtools/emulator/filters.py).
- `POST /` with `X-Amz-Target: AmazonPersonalize.<operation>` (the personalize control plane,
  JSON 1.1): CreateDatasetImportJob validated and recorded (read back at
  `GET /_emulator/import-jobs`); the calls `pipeline personalize apply` makes
  (devtools/emulator/control_plane.py).
- `GET /_emulator/stats`: calls accepted, events, distinct and re-sent eventIds, faults injected.
- `GET /_emulator/faults`, `POST /_emulator/faults` (JSON, any subset of `throttle_rate`,
  `error_rate`, `latency_ms`, `unknown_tracker`, `error_code`, `error_status`,
  `error_user_id`): read or change fault injection at run time.
- `GET /healthz`.

Fault injection (EMULATOR_THROTTLE_RATE, EMULATOR_ERROR_RATE, EMULATOR_LATENCY_MS,
EMULATOR_UNKNOWN_TRACKER, or the control route) answers PutEvents as AWS does when things go
wrong, in the shapes botocore classifies (botocore/data/_retry.json, retries/standard.py):
throttling is 400 `ThrottlingException` (retryable, throttling), a server error is 503
`ServiceUnavailable` (retryable, transient), an unknown tracker is 400
`ResourceNotFoundException` (not retryable). `error_code` answers every PutEvents (or only
those for `error_user_id`) with that code and `error_status`: any error AWS, or something in
between, could answer.
"""

import asyncio
import logging
import random
import time
from collections import Counter

import botocore.session
import orjson
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import http_routes
from core.service_model import validate
from devtools.emulator import catalog
from devtools.emulator.control_plane import ControlPlane, ControlPlaneError
from devtools.emulator.filters import FilterExpressionError
from devtools.emulator.recommendations import rank, recommendation_id

log = logging.getLogger(__name__)


class EmulatorSettings(BaseSettings):
    """Where the emulator listens, and which event types it accepts per tracker."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address the emulator listens on.")
    port: int = Field(default=8001, description="Port of the emulator (all its routes).")
    campaign_arns: list[str] = Field(
        default=[
            "arn:aws:personalize:us-east-1:000000000000:campaign/local-user-personalization",
            "arn:aws:personalize:us-east-1:000000000000:campaign/local-sims",
        ],
        description="Campaigns GetRecommendations knows (JSON list); others answer 404.",
    )
    max_event_types: int = Field(
        default=10,
        description=(
            "Distinct eventTypes a tracker's dataset accepts "
            "(Personalize's interactions-dataset limit)."
        ),
    )
    throttle_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Share of PutEvents answered 400 ThrottlingException (botocore retries it as "
            "throttling)."
        ),
    )
    error_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of PutEvents answered 503 ServiceUnavailable (retried as transient).",
    )
    latency_ms: float = Field(default=0.0, ge=0, description="Added to every PutEvents answer.")
    unknown_tracker: bool = Field(
        default=False,
        description=(
            "Every PutEvents answers 400 ResourceNotFoundException (the sink stops delivery)."
        ),
    )
    error_code: str = Field(
        default="",
        description=(
            "Answer PutEvents with this error code (e.g. one the sink does not know: retried, "
            "alerted on); empty: none."
        ),
    )
    error_status: int = Field(default=400, ge=400, le=599, description="HTTP status of that error.")
    error_user_id: str = Field(
        default="",
        description="Only PutEvents for this userId get that error; empty: all.",
    )


class Faults(BaseModel):
    """The fault injection in force; the control route changes it while the emulator runs.

    Validated as the settings are: "false" and 0 are false, rates stay within 0-1.
    """

    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=0.0, ge=0)
    unknown_tracker: bool = False
    error_code: str = ""
    error_status: int = 400
    error_user_id: str = ""


_PUT_EVENTS = web.AppKey("put_events", list)
_ARRIVALS = web.AppKey("arrivals", list)
_IMPORT_JOBS = web.AppKey("import_jobs", list)
_EVENT_TYPES = web.AppKey("event_types", dict)
_SETTINGS = web.AppKey("settings", EmulatorSettings)
_FAULTS = web.AppKey("faults", Faults)
_EVENT_IDS = web.AppKey("event_ids", Counter)
_STATS = web.AppKey("stats", Counter)
_CONTROL = web.AppKey("control_plane", ControlPlane)
_BOTOCORE = botocore.session.get_session()
_PUT_EVENTS_SHAPE = (
    _BOTOCORE.get_service_model("personalize-events").operation_model("PutEvents").input_shape
)
_CONTROL_PLANE = _BOTOCORE.get_service_model("personalize")
_GET_RECOMMENDATIONS_SHAPE = (
    _BOTOCORE.get_service_model("personalize-runtime")
    .operation_model("GetRecommendations")
    .input_shape
)


def _aws_error(status: int, code: str, message: str) -> web.Response:
    """The rest-json error shape: botocore reads the code from x-amzn-ErrorType."""
    return web.Response(
        status=status,
        body=orjson.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"},
    )


def _injected_fault(request: web.Request, tracking_id: str, user_id: str) -> web.Response | None:
    faults, stats = request.app[_FAULTS], request.app[_STATS]
    if faults.error_code and faults.error_user_id in ("", user_id):
        stats["injected_errors"] += 1
        return _aws_error(faults.error_status, faults.error_code, "injected by the emulator")
    if faults.unknown_tracker:
        stats["resource_not_found"] += 1
        return _aws_error(
            400, "ResourceNotFoundException", f"Tracker {tracking_id} does not exist."
        )
    draw = random.random()
    if draw < faults.throttle_rate:
        stats["throttled"] += 1
        return _aws_error(400, "ThrottlingException", "Rate exceeded")
    if draw < faults.throttle_rate + faults.error_rate:
        stats["server_errors"] += 1
        return _aws_error(503, "ServiceUnavailable", "Service is unavailable, try again")
    return None


async def _catalog_fault(
    request: web.Request, dataset_arn: str, ids: list[str]
) -> web.Response | None:
    """PutUsers/PutItems get PutEvents' latency and faults (`error_user_id`: any id listed)."""
    faults = request.app[_FAULTS]
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    target = faults.error_user_id if faults.error_user_id in ids else (ids[0] if ids else "")
    return _injected_fault(request, dataset_arn, target)


async def _put_events(request: web.Request) -> web.Response:
    arrived = time.time()
    faults = request.app[_FAULTS]
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return _aws_error(400, "SerializationException", f"body is not JSON: {exc}")
    tracking_id = body.get("trackingId", "") if isinstance(body, dict) else ""
    user_id = body.get("userId", "") if isinstance(body, dict) else ""
    fault = _injected_fault(request, str(tracking_id), str(user_id))
    if fault is not None:
        return fault
    errors = validate(_PUT_EVENTS_SHAPE, body)
    if errors:
        request.app[_STATS]["invalid"] += 1
        return _aws_error(400, "InvalidInputException", "; ".join(errors))
    known: set[str] = request.app[_EVENT_TYPES].setdefault(body["trackingId"], set())
    new = {event["eventType"] for event in body["eventList"]} - known
    limit = request.app[_SETTINGS].max_event_types
    if len(known) + len(new) > limit:
        return _aws_error(
            400,
            "InvalidInputException",
            f"tracker {body['trackingId']} would exceed {limit} distinct event types "
            f"(new: {sorted(new)})",
        )
    known |= new
    request.app[_PUT_EVENTS].append(body)
    request.app[_ARRIVALS].append(arrived)
    request.app[_STATS]["calls"] += 1
    request.app[_STATS]["events"] += len(body["eventList"])
    ids = request.app[_EVENT_IDS]
    for event in body["eventList"]:
        if "eventId" in event:
            ids[event["eventId"]] += 1
    return web.Response(status=200, body=b"{}", content_type="application/json")


async def _get_recommendations(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return _aws_error(400, "SerializationException", f"body is not JSON: {exc}")
    errors = validate(_GET_RECOMMENDATIONS_SHAPE, body)
    campaign = body.get("campaignArn") if isinstance(body, dict) else None
    if not errors and not campaign:
        errors = ["campaignArn is required (recommenderArn is not emulated)"]
    if errors:
        return _aws_error(400, "InvalidInputException", "; ".join(errors))
    if campaign not in request.app[_SETTINGS].campaign_arns:
        return _aws_error(404, "ResourceNotFoundException", f"campaign {campaign} not found")
    control, put_events = request.app[_CONTROL], request.app[_PUT_EVENTS]
    keep = None
    if "filterArn" in body:
        try:
            chosen = control.interaction_filter(body["filterArn"])
            keep = chosen.keeps(
                put_events,
                body.get("userId"),
                body.get("filterValues", {}),
                request.app[catalog.ITEM_METADATA],
            )
        except ControlPlaneError as exc:
            return _aws_error(404, exc.code, str(exc))
        except FilterExpressionError as exc:
            return _aws_error(400, "InvalidInputException", str(exc))
    items = rank(
        put_events,
        user_id=body.get("userId"),
        item_id=body.get("itemId"),
        count=body.get("numResults", 25),
        weights=control.event_weights(),
        keep=keep,
    )
    answer = {"itemList": items, "recommendationId": recommendation_id()}
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


def _json11_error(code: str, message: str) -> web.Response:
    """The JSON 1.1 error shape: botocore reads the code from `__type`."""
    return web.Response(
        status=400,
        body=orjson.dumps({"__type": code, "message": message}),
        content_type="application/x-amz-json-1.1",
    )


async def _control_plane(request: web.Request) -> web.Response:
    target = request.headers.get("X-Amz-Target", "")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return _json11_error("SerializationException", f"body is not JSON: {exc}")
    if target != "AmazonPersonalize.CreateDatasetImportJob":
        operation = target.removeprefix("AmazonPersonalize.")
        try:
            answer = request.app[_CONTROL].handle(operation, body)
        except ControlPlaneError as exc:
            return _json11_error(exc.code, str(exc))
        return web.Response(body=orjson.dumps(answer), content_type="application/x-amz-json-1.1")
    shape = _CONTROL_PLANE.operation_model("CreateDatasetImportJob").input_shape
    errors = validate(shape, body)
    if errors:
        return _json11_error("InvalidInputException", "; ".join(errors))
    if any(job["jobName"] == body["jobName"] for job in request.app[_IMPORT_JOBS]):
        return _json11_error("ResourceAlreadyExistsException", f"{body['jobName']} exists")
    request.app[_IMPORT_JOBS].append(body)
    arn = f"arn:aws:personalize:us-east-1:000000000000:dataset-import-job/{body['jobName']}"
    return web.Response(
        body=orjson.dumps({"datasetImportJobArn": arn}), content_type="application/x-amz-json-1.1"
    )


async def _import_jobs(request: web.Request) -> web.Response:
    return web.Response(
        body=orjson.dumps(request.app[_IMPORT_JOBS]), content_type="application/json"
    )


async def _read_back(request: web.Request) -> web.Response:
    return web.Response(
        body=orjson.dumps(request.app[_PUT_EVENTS]), content_type="application/json"
    )


async def _arrivals(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(request.app[_ARRIVALS]), content_type="application/json")


async def _forget(request: web.Request) -> web.Response:
    request.app[_PUT_EVENTS].clear()
    request.app[_ARRIVALS].clear()
    request.app[_EVENT_TYPES].clear()
    request.app[_EVENT_IDS].clear()
    request.app[_STATS].clear()
    return web.Response(status=204)


async def _stats(request: web.Request) -> web.Response:
    """Counts for tests and benchmarks; `resent_events`: accepted events whose eventId was seen."""
    ids = request.app[_EVENT_IDS]
    answer = {
        **dict.fromkeys(
            (
                "calls",
                "events",
                "throttled",
                "server_errors",
                "invalid",
                "resource_not_found",
                "injected_errors",
            ),
            0,
        ),
        **request.app[_STATS],
        "distinct_event_ids": len(ids),
        "resent_events": sum(count - 1 for count in ids.values()),
    }
    return web.json_response(answer)


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[_FAULTS].model_dump())


async def _set_faults(request: web.Request) -> web.Response:
    try:
        changes = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
    faults = request.app[_FAULTS]
    current = faults.model_dump()
    unknown = set(changes) - set(current) if isinstance(changes, dict) else {"(not an object)"}
    if unknown:
        return web.json_response({"error": f"unknown fault settings {sorted(unknown)}"}, status=400)
    try:
        wanted = Faults.model_validate({**current, **changes})
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))} {e['msg']}" for e in exc.errors())
        return web.json_response({"error": f"bad fault settings: {reasons}"}, status=400)
    for name in changes:
        setattr(faults, name, getattr(wanted, name))
    log.info("emulator faults changed", extra={"faults": faults.model_dump()})
    return web.json_response(faults.model_dump())


def create_app(settings: EmulatorSettings | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[_SETTINGS] = settings or EmulatorSettings()
    app[_PUT_EVENTS] = []
    app[_ARRIVALS] = []
    app[_IMPORT_JOBS] = []
    app[_EVENT_TYPES] = {}
    app[_EVENT_IDS] = Counter()
    app[_STATS] = Counter()
    app[_CONTROL] = ControlPlane()
    settings = app[_SETTINGS]
    app[_FAULTS] = Faults(
        throttle_rate=settings.throttle_rate,
        error_rate=settings.error_rate,
        latency_ms=settings.latency_ms,
        unknown_tracker=settings.unknown_tracker,
        error_code=settings.error_code,
        error_status=settings.error_status,
        error_user_id=settings.error_user_id,
    )
    app.router.add_post("/events", _put_events)
    catalog.install(app, app[_CONTROL], _catalog_fault, _aws_error)
    app.router.add_post("/recommendations", _get_recommendations)
    app.router.add_post("/", _control_plane)
    app.router.add_get("/_emulator/import-jobs", _import_jobs)
    app.router.add_get("/_emulator/put-events", _read_back)
    app.router.add_get("/_emulator/put-events/arrivals", _arrivals)
    app.router.add_delete("/_emulator/put-events", _forget)
    app.router.add_get("/_emulator/stats", _stats)
    app.router.add_get("/_emulator/faults", _get_faults)
    app.router.add_post("/_emulator/faults", _set_faults)
    app.router.add_get("/healthz", http_routes.healthz)
    return app


def run(settings: EmulatorSettings | None = None) -> None:
    settings = settings or EmulatorSettings()
    log.info("personalize emulator listening", extra={"port": settings.port})
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        loop=asyncio.new_event_loop(),
    )
