"""Read the rules' user and item fields out of a raw record: one msgspec decode, mapped fields.

The decoder is built from the rules at start-up: a Struct holding only the top-level fields,
`user_properties` and `event_properties` members the `[users]` and `[items]` tables name (and
the item id properties), so msgspec skips everything else without building it. An Amplitude
user record may carry its properties as Identify operations (`{"$set": {...}}`): `$set`
values are read too, and win over a plain property of the same name.
"""

from dataclasses import dataclass
from typing import Any

import msgspec

from schemas import MAX_ID_LENGTH
from schemas.catalog import FieldValue
from schemas.catalog_fields import map_fields
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
        self._items = list(items.field) if items.field else []
        self._item_ids = tuple(item_id_properties) if self._items else ()
        user_props = sorted({p for f in self._users if (p := f.path[1]) is not None})
        event_props = sorted({*self._item_ids, *(p for f in self._items if (p := f.path[1]))})
        top = sorted({f.path[0] for f in self._users if f.path[1] is None})
        members: dict[str, Any] = {"user_id": Any}
        members.update({name: Any for name in top})
        if user_props:
            plain = {name: Any for name in user_props}
            props = _struct("_UserProperties", {**plain, _SET: _struct("_Set", plain)})
            members[USER_PROPERTIES] = props
        if event_props:
            members[EVENT_PROPERTIES] = _struct("_EventProperties", dict.fromkeys(event_props, Any))
        self._record = _struct("_CatalogFields", members)
        self._decode = msgspec.json.Decoder(self._record).decode
        # JSON name -> Python attribute, per struct
        self._attr = {
            struct: {f.encode_name: f.name for f in msgspec.structs.fields(struct)}
            for struct in _all_structs(self._record)
        }

    @property
    def maps_users(self) -> bool:
        return bool(self._users)

    def read(self, raw: bytes) -> CatalogValues:
        """Raises msgspec errors when the record's shape cannot be read (the caller counts it)."""
        record = self._decode(raw)
        problems: list[tuple[str, str]] = []
        user_id = _id(getattr(record, self._attr[self._record]["user_id"]))
        user_fields: dict[str, FieldValue] = {}
        if user_id is not None and self._users:
            user_fields, bad = map_fields(self._users, lambda f: self._user_value(record, f))
            problems.extend(("users", reason) for reason in bad)
        item_id, item_fields = None, {}
        if self._items:
            props = self._member(record, EVENT_PROPERTIES)
            if props is not None:
                item_id = next(
                    (i for name in self._item_ids if (i := _id(self._get(props, name)))), None
                )
                if item_id is not None:
                    item_fields, bad = map_fields(
                        self._items, lambda f: self._get(props, f.path[1] or "")
                    )
                    problems.extend(("items", reason) for reason in bad)
        return CatalogValues(user_id, user_fields, item_id, item_fields, problems)

    def _user_value(self, record: Any, rule: FieldRule) -> Any:
        head, name = rule.path
        if name is None:
            return self._member(record, head)
        props = self._member(record, USER_PROPERTIES)
        if props is None:
            return None
        operations = self._get(props, _SET)
        if operations is not None:
            value = self._get(operations, name)
            if value is not None:
                return value
        return self._get(props, name)

    def _member(self, record: Any, name: str) -> Any:
        return getattr(record, self._attr[self._record][name], None)

    def _get(self, struct: Any, name: str) -> Any:
        attr = self._attr[type(struct)].get(name)
        return None if attr is None else getattr(struct, attr)


def _all_structs(struct: Any) -> list[Any]:
    found = [struct]
    for f in msgspec.structs.fields(struct):
        for kind in getattr(f.type, "__args__", (f.type,)):
            if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                found.extend(_all_structs(kind))
    return found


def _id(value: Any) -> str | None:
    """An id as the interactions use it: a non-empty string, or an integer (as text)."""
    if isinstance(value, str):
        return value if 0 < len(value) <= MAX_ID_LENGTH else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
