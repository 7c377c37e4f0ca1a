"""PutUsers and PutItems as the emulator answers them, and what they leave for filters.

Routes (installed by personalize.py's `create_app`, with its fault injection and latency):
- `POST /users`, `POST /items` (personalize-events PutUsers, PutItems): validated against
  botocore's model; `properties` must be a JSON object and, when the dataset was created through
  the control plane, its keys the camelCase of the dataset schema's fields (AWS's rule);
  a bad request gets 400 `InvalidInputException` naming the record's index, never its values.
- `GET /_emulator/put-users`, `GET /_emulator/put-items`: every accepted call in arrival order,
  as `{"arrivedAt": <unix seconds>, "body": <request>}`, so tests can count calls per second.
- `DELETE` of either: forget them (and the items' metadata).

Each accepted item's properties, by schema field name (CATEGORY, not category), are the item
metadata that item filters read (filters.py: `Items.CATEGORY IN (...)`).
"""

import time
from collections.abc import Awaitable, Callable
from typing import Any

import botocore.session
import orjson
from aiohttp import web

from core.service_model import validate
from devtools.emulator.control_plane import ControlPlane

Fault = Callable[[web.Request, str, list[str]], Awaitable[web.Response | None]]
AwsError = Callable[[int, str, str], web.Response]

_MODEL = botocore.session.get_session().get_service_model("personalize-events")
_CALLS = {
    "users": web.AppKey("put_users", list),
    "items": web.AppKey("put_items", list),
}
ITEM_METADATA = web.AppKey("item_metadata", dict)  # item id -> {SCHEMA_FIELD: value}
_KINDS = {  # list member -> (operation, id member, dataset type)
    "users": ("PutUsers", "userId", "USERS"),
    "items": ("PutItems", "itemId", "ITEMS"),
}


def schema_name(camel: str) -> str:
    """A `properties` key as its schema field: numberOfRatings is NUMBER_OF_RATINGS."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in camel).lstrip("_")


def install(app: web.Application, control: ControlPlane, fault: Fault, error: AwsError) -> None:
    app[_CALLS["users"]] = []
    app[_CALLS["items"]] = []
    app[ITEM_METADATA] = {}
    for members in _KINDS:
        app.router.add_post(f"/{members}", _put(members, control, fault, error))
        app.router.add_get(f"/_emulator/put-{members}", _read_back(members))
        app.router.add_delete(f"/_emulator/put-{members}", _forget(members))


def _put(
    members: str, control: ControlPlane, fault: Fault, error: AwsError
) -> Callable[[web.Request], Awaitable[web.Response]]:
    operation, id_key, dataset_type = _KINDS[members]
    shape = _MODEL.operation_model(operation).input_shape

    async def handle(request: web.Request) -> web.Response:
        arrived = time.time()  # before any injected latency: when AWS would count the call
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return error(400, "SerializationException", f"body is not JSON: {exc}")
        listed = body.get(members) if isinstance(body, dict) else None
        ids = [str(r.get(id_key, "")) for r in listed or [] if isinstance(r, dict)]
        injected = await fault(request, str(body.get("datasetArn", "")), ids)
        if injected is not None:
            return injected
        problems = validate(shape, body)
        if not problems:
            problems = _property_problems(body, members, id_key, control, dataset_type)
        if problems:
            return error(400, "InvalidInputException", "; ".join(problems))
        request.app[_CALLS[members]].append({"arrivedAt": arrived, "body": body})
        if members == "items":
            metadata = request.app[ITEM_METADATA]
            for record in body["items"]:
                fields = orjson.loads(record.get("properties", "{}"))
                metadata[record["itemId"]] = {schema_name(k): v for k, v in fields.items()}
        return web.Response(status=200, body=b"{}", content_type="application/json")

    return handle


def _property_problems(
    body: dict[str, Any], members: str, id_key: str, control: ControlPlane, dataset_type: str
) -> list[str]:
    fields = control.dataset_fields(body["datasetArn"], dataset_type)
    problems = []
    for index, record in enumerate(body[members]):
        if "properties" not in record:
            continue
        try:
            properties = orjson.loads(record["properties"])
        except orjson.JSONDecodeError:
            problems.append(f"{members}[{index}].properties is not JSON")
            continue
        if not isinstance(properties, dict):
            problems.append(f"{members}[{index}].properties is not a JSON object")
            continue
        if fields is not None:
            unknown = sorted(k for k in properties if schema_name(k) not in fields)
            if unknown:  # key names are schema names, not personal data
                problems.append(f"{members}[{index}].properties: not in the schema: {unknown}")
    return problems


def _read_back(members: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        calls = request.app[_CALLS[members]]
        return web.Response(body=orjson.dumps(calls), content_type="application/json")

    return handle


def _forget(members: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        request.app[_CALLS[members]].clear()
        if members == "items":
            request.app[ITEM_METADATA].clear()
        return web.Response(status=204)

    return handle
