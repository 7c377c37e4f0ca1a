"""An Amplitude value turned into a Users/Items-dataset field value, as the rules' type says.

Written once, here: the stream stage (user and item properties of live events) and the items
backfill (a catalogue file) map values the same way. A value that cannot be the field is
left out with a reason (a bounded name, never the value: user properties are personal data):

- `wrong_type`: not a value of the field's type (an object, a list for a single value, a word
  for a number, a boolean for a number);
- `too_long`: a categorical value over the field's `max_length` (Personalize: 1000 characters);
- `out_of_range`: a number outside the Avro type (int: 32 bits, long: 64), a non-finite float,
  or a time no timestamp reading accepts.

Absent, null and empty values are simply absent (no reason). Amplitude forwards user
properties as strings, so a number field also reads a numeric string.
"""

import math
from collections.abc import Callable, Iterable
from typing import Any

from schemas.amplitude import event_time_ms
from schemas.catalog import FieldValue
from schemas.rules import FieldRule

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
WRONG_TYPE, TOO_LONG, OUT_OF_RANGE = "wrong_type", "too_long", "out_of_range"


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def field_value(rule: FieldRule, value: Any) -> tuple[FieldValue | None, str | None]:
    """(value in Personalize's form, None), (None, None) when absent, or (None, reason)."""
    if value is None or value == "" or value == []:
        return None, None
    try:
        return _CONVERT[rule.type](rule, value), None
    except _Refused as refused:
        return None, refused.reason


def map_fields(
    rules: Iterable[FieldRule], lookup: Callable[[FieldRule], Any]
) -> tuple[dict[str, FieldValue], list[str]]:
    """The fields `lookup` finds a usable value for, and the reasons of those left out."""
    fields: dict[str, FieldValue] = {}
    problems: list[str] = []
    for rule in rules:
        value, problem = field_value(rule, lookup(rule))
        if value is not None:
            fields[rule.name] = value
        elif problem is not None:
            problems.append(problem)
    return fields, problems


def _categorical(rule: FieldRule, value: Any) -> str:
    if isinstance(value, list):
        if not rule.multi_value:
            raise _Refused(WRONG_TYPE)
        parts = [_category(v) for v in value]
        text = "|".join(p for p in parts if p)
    else:
        text = _category(value)
    if not text:
        raise _Refused(WRONG_TYPE)
    if len(text) > rule.max_length:
        raise _Refused(TOO_LONG)
    return text


def _category(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    raise _Refused(WRONG_TYPE)


def _integer(rule: FieldRule, value: Any) -> int:
    if isinstance(value, bool):
        raise _Refused(WRONG_TYPE)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _Refused(WRONG_TYPE) from None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise _Refused(WRONG_TYPE)
    low, high = _INT32 if rule.type == "int" else _INT64
    if not low <= value <= high:
        raise _Refused(OUT_OF_RANGE)
    return value


def _float(_rule: FieldRule, value: Any) -> float:
    if isinstance(value, bool):
        raise _Refused(WRONG_TYPE)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _Refused(WRONG_TYPE) from None
    if not isinstance(value, int | float):
        raise _Refused(WRONG_TYPE)
    if not math.isfinite(value):
        raise _Refused(OUT_OF_RANGE)
    return float(value)


def _timestamp(_rule: FieldRule, value: Any) -> int:
    """Epoch seconds: Personalize's CREATION_TIMESTAMP unit, whatever unit Amplitude used."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused(WRONG_TYPE)
    try:
        return event_time_ms(value) // 1000
    except ValueError:
        raise _Refused(OUT_OF_RANGE) from None


_CONVERT: dict[str, Callable[[FieldRule, Any], FieldValue]] = {
    "categorical": _categorical,
    "int": _integer,
    "long": _integer,
    "float": _float,
    "timestamp": _timestamp,
}
