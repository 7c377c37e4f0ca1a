"""Read the rules' user and item fields out of a raw record: one msgspec decode, mapped fields.

The decoder is built from the rules at start-up: a Struct holding only the top-level fields,
`user_properties` and `event_properties` members the `[users]` and `[items]` tables name (and
the item id properties), so msgspec skips everything else without building it. An Amplitude
user record may carry its properties as Identify operations (`{"$set": {...}}`): `$set`
values are read too, and win over a plain property of the same name.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas import MAX_ID_LENGTH
from schemas.catalog import FieldValue
from schemas.catalog_fields import field_value
from schemas.rules import EVENT_PROPERTIES, USER_PROPERTIES, DatasetRules, FieldRule

_SET = "$set"


@dataclass(frozen=True, slots=True)
class CatalogValues:
    """What one record says about its user and its item (ids None: nothing to say)."""

    user_id: str | None
    user_fields: dict[str, FieldValue]
    item_id: str | None
    item_fields: dict[str, FieldValue]
    problems: list[tuple[str, str]]  # (dataset, reason) of each value left out


def _struct(name: str, members: dict[str, Any]) -> Any:
    """A Struct with one optional member per JSON name (Python names are generated: a JSON name
    may be any string)."""
    fields = [
        (f"m{i}", kind | None, msgspec.field(default=None, name=wire))
        for i, (wire, kind) in enumerate(members.items())
    ]
    return msgspec.defstruct(name, fields, forbid_unknown_fields=False)


class CatalogReader:
    def __init__(self, users: DatasetRules, items: DatasetRules, item_id_properties: list[str]):
        self._users = list(users.field)
        self._items = list(items.field)
        item_ids = tuple(item_id_properties) if self._items else ()
        user_props = sorted({p for f in self._users if (p := f.path[1]) is not None})
        event_props = sorted({*item_ids, *(p for f in self._items if (p := f.path[1]))})
        top = sorted({f.path[0] for f in self._users if f.path[1] is None})
        members: dict[str, Any] = {"user_id": Any, **dict.fromkeys(top, Any)}
        nested: dict[str, Any] = {}  # JSON name of a nested object -> its Struct
        if user_props:
            nested[_SET] = _struct("_Set", dict.fromkeys(user_props, Any))
            nested[USER_PROPERTIES] = _struct(
                "_UserProperties", {**dict.fromkeys(user_props, Any), _SET: nested[_SET]}
            )
            members[USER_PROPERTIES] = nested[USER_PROPERTIES]
        if event_props:
            nested[EVENT_PROPERTIES] = _struct("_EventProperties", dict.fromkeys(event_props, Any))
            members[EVENT_PROPERTIES] = nested[EVENT_PROPERTIES]
        record = _struct("_CatalogFields", members)
        self._decode = msgspec.json.Decoder(record).decode
        self._attrs = {None: _attrs(record)} | {name: _attrs(t) for name, t in nested.items()}
        self._user_id = self._attrs[None]["user_id"]
        # One getter per rule, built once: the per-record work is attribute reads only.
        self._user_getters = [(rule, self._user_getter(rule)) for rule in self._users]
        self._item_getters = [
            (rule, self._getter(EVENT_PROPERTIES, rule.path[1] or "")) for rule in self._items
        ]
        self._item_id_getters = [self._getter(EVENT_PROPERTIES, name) for name in item_ids]

    def read(self, raw: bytes) -> CatalogValues:
        """Raises msgspec errors when the record's shape cannot be read (the caller counts it)."""
        record = self._decode(raw)
        problems: list[tuple[str, str]] = []
        user_id = _id(getattr(record, self._user_id))
        user_fields: dict[str, FieldValue] = {}
        if user_id is not None:
            for rule, get in self._user_getters:
                value, problem = field_value(rule, get(record))
                if value is not None:
                    user_fields[rule.name] = value
                elif problem is not None:
                    problems.append(("users", problem))
        item_id = None
        item_fields: dict[str, FieldValue] = {}
        for get in self._item_id_getters:
            item_id = _id(get(record))
            if item_id is not None:
                break
        if item_id is not None:
            for rule, get in self._item_getters:
                value, problem = field_value(rule, get(record))
                if value is not None:
                    item_fields[rule.name] = value
                elif problem is not None:
                    problems.append(("items", problem))
        return CatalogValues(user_id, user_fields, item_id, item_fields, problems)

    def _getter(self, nested: str, name: str) -> Callable[[Any], Any]:
        """`record.<nested>.<name>`, None when either is absent."""
        outer, inner = self._attrs[None][nested], self._attrs[nested][name]

        def get(record: Any) -> Any:
            props = getattr(record, outer)
            return None if props is None else getattr(props, inner)

        return get

    def _user_getter(self, rule: FieldRule) -> Callable[[Any], Any]:
        head, name = rule.path
        if name is None:
            return operator.attrgetter(self._attrs[None][head])
        plain = self._getter(USER_PROPERTIES, name)
        operations = self._getter(USER_PROPERTIES, _SET)
        in_set = self._attrs[_SET][name]

        def get(record: Any) -> Any:
            ops = operations(record)
            value = None if ops is None else getattr(ops, in_set)
            return plain(record) if value is None else value

        return get


def _attrs(struct: Any) -> dict[str, str]:
    """JSON name -> the Struct's attribute."""
    return {f.encode_name: f.name for f in msgspec.structs.fields(struct)}


def _id(value: Any) -> str | None:
    """An id as the interactions use it: a non-empty string, or an integer (as text)."""
    if isinstance(value, str):
        return value if 0 < len(value) <= MAX_ID_LENGTH else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
