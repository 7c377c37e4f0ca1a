"""The OpenAPI 3.0 description of the webhook, served at /openapi.json.

Built from the settings, so the header names and limits it states are the ones in force. A
generic tool (schemathesis in tests/integration/ingest/test_fuzz.py) fuzzes the service from it.
"""

from typing import Any

from ingest.settings import IngestSettings

_EVENT: dict[str, Any] = {
    "type": "object",
    "description": (
        "An Amplitude event. Unknown fields are kept. Ingest checks only that `event_type` is a "
        "non-empty string and that `user_id` or `device_id` is one; an event that fails is "
        "reported in `errors` and written to the dead-letter topic, the others are accepted."
    ),
    "properties": {
        "event_type": {"type": "string", "minLength": 1},
        "user_id": {"type": "string", "minLength": 1},
        "device_id": {"type": "string", "minLength": 1},
        "insert_id": {"type": "string"},
        "$insert_id": {"type": "string", "description": "The Export format's insert_id."},
        "time": {"type": "integer", "description": "ms since the epoch (HTTP API)."},
        "event_time": {
            "type": "string",
            "description": 'Export format / webhook default payload: "2022-02-28 20:07:01.795".',
        },
        "session_id": {"type": "integer"},
        "event_properties": {"type": "object"},
        "user_properties": {"type": "object"},
    },
    "additionalProperties": True,
}

_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["code", "error"],
    "properties": {
        "code": {"type": "integer", "description": "The HTTP status, as HTTP V2 answers."},
        "error": {"type": "string"},
        "request_id": {"type": "string"},
        "events_with_missing_fields": {
            "type": "object",
            "description": "HTTP V2 bodies: rejected events' indices, by the field they lack.",
            "additionalProperties": {"type": "array", "items": {"type": "integer"}},
        },
        "events_with_invalid_fields": {
            "type": "object",
            "description": "HTTP V2 bodies: other rejected events' indices, by reason.",
            "additionalProperties": {"type": "array", "items": {"type": "integer"}},
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(settings: IngestSettings) -> dict[str, Any]:
    events = {
        "type": "array",
        "maxItems": settings.ingest_max_events,
        "items": {"$ref": "#/components/schemas/Event"},
    }
    security: list[dict[str, list[str]]] = []
    schemes: dict[str, Any] = {}
    if settings.amplitude_webhook_secret is not None:
        if settings.ingest_secret_header.lower() == "authorization":
            schemes["sharedSecret"] = {"type": "http", "scheme": "bearer"}
        else:
            schemes["sharedSecret"] = {
                "type": "apiKey",
                "in": "header",
                "name": settings.ingest_secret_header,
            }
        security.append({"sharedSecret": []})
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "amplitude-personalize-pipeline ingest",
            "version": "1.0.0",
            "description": (
                "Amplitude's webhook. 200 only after Kafka acknowledged every written event. "
                "Bodies may be gzip-compressed (Content-Encoding: gzip). "
                + (
                    f"An HMAC-SHA256 of `<timestamp>.<body as sent>` is required in "
                    f"`{settings.ingest_hmac_header}`, the timestamp (Unix seconds, within "
                    f"{settings.ingest_hmac_tolerance_seconds:g} s) in "
                    f"`{settings.ingest_hmac_timestamp_header}`; a signature is accepted once."
                    if settings.ingest_hmac_secret is not None
                    else ""
                )
            ),
        },
        "paths": {
            "/webhooks/amplitude": {
                "post": {
                    "operationId": "postEvents",
                    "security": security,
                    "parameters": [
                        {
                            "name": "X-Request-Id",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                            "description": "Kept when well-formed; otherwise one is made.",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {
                                            "type": "object",
                                            "required": ["events"],
                                            "properties": {
                                                "events": events,
                                                "api_key": {
                                                    "type": "string",
                                                    "description": (
                                                        "HTTP V2: one of INGEST_API_KEYS, the "
                                                        "credential of a request without the "
                                                        "shared secret."
                                                    ),
                                                },
                                                "options": {"type": "object"},
                                            },
                                        },
                                        events,
                                        {"$ref": "#/components/schemas/Event"},
                                    ]
                                }
                            },
                            "application/x-ndjson": {
                                "schema": {
                                    **events,
                                    "description": "The events, sent one JSON object a line.",
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Every event acknowledged by Kafka (good ones on the "
                            "raw topic, bad ones on the dead-letter topic).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        "400": _error(
                            "Malformed JSON, NDJSON or gzip; nothing written. Or, for an "
                            "HTTP V2 body (with api_key) some of whose events were rejected: "
                            "the others were written, the rejected ones are listed."
                        ),
                        "401": _error("Missing or wrong credentials; nothing written."),
                        "413": _error(
                            f"Body over {settings.ingest_max_body_bytes} bytes (as sent or "
                            f"decompressed) or over {settings.ingest_max_events} events; "
                            "nothing written."
                        ),
                        "415": _error("Unsupported Content-Type or Content-Encoding."),
                        "503": {
                            **_error("Kafka did not acknowledge in time: retry."),
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        },
                    },
                }
            },
        },
        "components": {
            "securitySchemes": schemes,
            "schemas": {
                "Event": _EVENT,
                "Error": _ERROR,
                "Accepted": {
                    "type": "object",
                    "required": [
                        "code",
                        "events_ingested",
                        "payload_size_bytes",
                        "server_upload_time",
                        "received",
                        "accepted",
                        "rejected",
                        "errors",
                        "request_id",
                    ],
                    "properties": {
                        "code": {"type": "integer"},
                        "events_ingested": {"type": "integer", "description": "= accepted"},
                        "payload_size_bytes": {"type": "integer"},
                        "server_upload_time": {
                            "type": "integer",
                            "description": "When the body was received, ms since the epoch.",
                        },
                        "received": {"type": "integer"},
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "request_id": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["index", "reason"],
                                "properties": {
                                    "index": {"type": "integer"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
