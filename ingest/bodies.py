"""Turn a webhook body into events, and the light per-event check ingest applies.

Accepted: `{"events": [...]}` (an HTTP V2 body also carries `api_key` and `options`), a bare
array of events, a single event object (the webhook's default payload), NDJSON, and any of
them gzip-compressed. Events are never decoded and re-encoded: msgspec splits the body into raw
JSON slices (each event's bytes exactly as sent) and decodes only the three fields the check
needs, skipping the rest. The raw topic gets the sender's bytes.
"""

import codecs
import json
import re
import zlib
from typing import Any

import msgspec

from schemas import check_actor, check_user_record


class BodyError(ValueError):
    """The body as a whole cannot be used; `status` is the HTTP answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Head(msgspec.Struct):
    """The fields `check_actor` reads; msgspec skips every other field without building it."""

    event_type: Any = None
    user_id: Any = None
    device_id: Any = None


class _UserHead(_Head):
    """A record without an event type, read again: is it a user record (`user_properties`)?"""

    user_properties: Any = None


class _Object(_Head):
    """A top-level object: either the envelope (`events` present) or a single event."""

    events: msgspec.Raw = msgspec.Raw()


class _Credential(msgspec.Struct):
    """An HTTP V2 body's `api_key`; msgspec skips the events without building them."""

    api_key: Any = None
    events: msgspec.Raw = msgspec.Raw()


_decode_head = msgspec.json.Decoder(_Head).decode
_decode_user_head = msgspec.json.Decoder(_UserHead).decode
_decode_credential = msgspec.json.Decoder(_Credential).decode
_decode_object = msgspec.json.Decoder(_Object).decode
_decode_array = msgspec.json.Decoder(list[msgspec.Raw]).decode


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing (413) to produce more than `limit` bytes: no gzip bomb."""
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            chunk = inflater.decompress(data, limit - size + 1)
            size += len(chunk)
            if size > limit:
                raise BodyError(413, f"body over {limit} bytes once decompressed")
            if not inflater.eof:
                raise BodyError(400, "gzip body is truncated")
            out.append(chunk)
            data = inflater.unused_data  # a gzip file may hold several members
    except zlib.error as exc:
        raise BodyError(400, f"body is not valid gzip: {exc}") from None
    return b"".join(out)


def split_events(body: bytes, ndjson: bool = False) -> list[Any]:
    """Each event's raw JSON bytes (a `bytes` or `msgspec.Raw` slice), in order.

    `ndjson` means the sender declared NDJSON; otherwise the shape is recognised from the
    body, and a body that is not one JSON value is tried as NDJSON.
    """
    # A UTF-8 byte-order mark (some tools write one) is not JSON: read what follows it.
    stripped = body.removeprefix(codecs.BOM_UTF8).strip()
    if not stripped:
        raise BodyError(400, "empty body")
    if ndjson:
        return _split_ndjson(stripped)
    first = stripped[:1]
    try:
        if first == b"[":
            return _decode_array(stripped)  # type: ignore[no-any-return]
        if first == b"{":
            try:
                top = _decode_object(stripped)
            except UnicodeDecodeError:
                # Invalid UTF-8 in a top-level field (the user id): NDJSON whose lines are
                # judged one by one, else one event, refused on its own by inspect_event.
                # (Nesting deeper than msgspec decodes refuses the whole body, below: whether
                # it held other events cannot be known, and a 200 would hide their loss.)
                if b"\n" in stripped:
                    try:
                        return _split_ndjson(stripped)
                    except BodyError:
                        pass
                return [stripped]
            if not top.events:
                return [stripped]
            return _envelope_events(top.events)
    except (UnicodeDecodeError, RecursionError) as exc:  # msgspec's, beside DecodeError
        raise BodyError(400, f"malformed body: {_unreadable(exc)}") from None
    except msgspec.ValidationError as exc:
        raise BodyError(400, f"malformed body: {exc}") from None
    except msgspec.DecodeError as exc:
        if _SURROGATE_ESCAPE.search(stripped):
            events = _split_by_python_json(stripped)
            if events is not None:
                return events
        if b"\n" not in stripped:
            raise BodyError(400, f"malformed JSON: {exc}") from None
        try:
            return _split_ndjson(stripped)
        except BodyError as ndjson_error:
            if str(ndjson_error).startswith("malformed JSON (line 1)"):
                raise BodyError(400, f"malformed JSON: {exc}") from None
            raise
    if b"\n" in stripped:
        return _split_ndjson(stripped)
    raise BodyError(400, "body must be a JSON object, an array of events, or NDJSON")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_WHITESPACE = " \t\n\r"


def _ignored(_literal: str) -> int:
    return 0  # only the slices are kept: numbers need not be built (nor 4,300 digits refused)


_PYTHON_JSON = json.JSONDecoder(parse_int=_ignored, parse_float=_ignored, parse_constant=_ignored)


def _split_by_python_json(body: bytes) -> list[Any] | None:
    """Each event's bytes, for a body msgspec refuses only because of a lone surrogate escape
    (`"\\ud800"`: JSON's grammar allows it, msgspec does not). Python's json reads it, so the
    events are found here and only the one that holds it is refused, by the stream stage
    (undecodable_json), instead of the whole request. None: not a body this splits."""
    try:
        text = body.decode()
        if text[0] == "[":
            events, end = _array_slices(text, 0)
        elif text[0] == "{":
            events, end = _envelope_slices(text)
            if events is None:
                events = [body]  # a single event
        else:
            return None
        return events if not text[end:].strip(_WHITESPACE) else None
    except (UnicodeDecodeError, ValueError, IndexError, RecursionError):
        return None


def _skip(text: str, pos: int) -> int:
    while text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _array_slices(text: str, pos: int) -> tuple[list[Any], int]:
    """The raw UTF-8 slices of the array starting at `pos`, and the position after it."""
    slices: list[Any] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return slices, pos + 1
    while True:
        _, end = _PYTHON_JSON.raw_decode(text, pos)
        slices.append(text[pos:end].encode())
        pos = _skip(text, end)
        if text[pos] == "]":
            return slices, pos + 1
        if text[pos] != ",":
            raise ValueError("expected , or ]")
        pos = _skip(text, pos + 1)


def _envelope_slices(text: str) -> tuple[list[Any] | None, int]:
    """The slices of the top-level object's `events` array (None without one), and its end."""
    events: list[Any] | None = None
    pos = _skip(text, 1)
    if text[pos] == "}":
        return None, pos + 1
    while True:
        key, pos = _PYTHON_JSON.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError("expected :")
        pos = _skip(text, pos + 1)
        if key == "events" and text[pos] == "[":
            events, pos = _array_slices(text, pos)
        else:
            _, pos = _PYTHON_JSON.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == "}":
            return events, pos + 1
        if text[pos] != ",":
            raise ValueError("expected , or }")
        pos = _skip(text, pos + 1)


def _unreadable(exc: Exception) -> str:
    return "invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"


def envelope_api_key(body: bytes) -> str | None:
    """The `api_key` of an HTTP V2 body (`{"api_key", "events", "options"}`), else None.

    Read only when needed (a request without the shared secret, or with rejected events), so
    the hot path decodes the body once.
    """
    stripped = body.removeprefix(codecs.BOM_UTF8).strip()
    if stripped[:1] != b"{":
        return None
    try:
        envelope = _decode_credential(stripped)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # not one readable object
        return None
    api_key = envelope.api_key
    return api_key if envelope.events and isinstance(api_key, str) else None


def _envelope_events(events: msgspec.Raw) -> list[Any]:
    try:
        return _decode_array(events)  # type: ignore[no-any-return]
    except msgspec.ValidationError:
        raise BodyError(400, '"events" must be a JSON array') from None


def _split_ndjson(body: bytes) -> list[Any]:
    events = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            _decode_head(line)  # well-formed JSON, one value per line
        except (msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            pass  # well-formed but not a usable object: a bad event, judged by inspect_event
        except msgspec.DecodeError as exc:
            raise BodyError(400, f"malformed JSON (line {number}): {exc}") from None
        events.append(line)
    return events


def inspect_event(raw: Any, max_bytes: int) -> tuple[bytes | None, str | None]:
    """(partition key, None) for a usable event's (or user record's) raw bytes; (None, reason)
    for a bad one.

    The rule and the key are the raw topic's (`schemas.check_actor`); ingest adds the size
    limit and what decoding can refuse."""
    if len(raw) > max_bytes:
        return None, "event_too_large"
    try:
        head = _decode_head(raw)
    except msgspec.ValidationError:  # valid JSON, but not an object
        return None, "not_an_object"
    except msgspec.DecodeError:  # JSON msgspec cannot read (a lone surrogate escape)
        return None, "malformed_json"
    except UnicodeDecodeError:  # msgspec's error for invalid UTF-8 in a string it decodes
        return None, "invalid_utf8"
    except RecursionError:
        return None, "nested_too_deeply"
    actor, reason = check_actor(head.event_type, head.user_id, head.device_id)
    if reason == "missing_event_type":  # perhaps Amplitude's user record ("Send Users")
        user = _decode_user_head(raw)
        actor, reason = check_user_record(
            user.event_type, user.user_id, user.device_id, user.user_properties
        )
    return (None, reason) if actor is None else (actor.encode(), None)
