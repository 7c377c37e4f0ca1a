"""Read the rules' user and item values out of a raw record: one msgspec decode, then mapping.

The decoder is built from the rules at start-up: a Struct holding only the top-level fields,
`user_properties` and `event_properties` members the `[users]` and `[items]` tables name (and
the item id properties), so msgspec skips everything else without building it. An Amplitude
user record may carry its properties as Identify operations (`{"$set": {...}}`): `$set`
values are read too, and win over a plain property of the same name.
"""

import operator
from collections.abc import Callable
from typing import Any

import msgspec

from schemas import MAX_ID_LENGTH
from schemas.catalog import FieldValue
from schemas.catalog_fields import field_value
from schemas.rules import EVENT_PROPERTIES, USER_PROPERTIES, DatasetRules, FieldRule

_SET = "$set"


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
        # Getters built once: per record, the work is attribute reads into a tuple, which the
        # caller compares with the last one it saw for the id before mapping anything.
        self._user_values = _tuple_getter(
            [self._user_getter(rule) for rule in self._users],
            [self._attrs[None][f.path[0]] if f.path[1] is None else None for f in self._users],
        )
        self._props = (
            operator.attrgetter(self._attrs[None][EVENT_PROPERTIES]) if event_props else None
        )
        self._item_values = _tuple_getter(
            [],
            [self._attrs[EVENT_PROPERTIES][rule.path[1] or ""] for rule in self._items],
            always_tuple=True,
        )
        self._item_ids = _tuple_getter(
            [], [self._attrs[EVENT_PROPERTIES][name] for name in item_ids], always_tuple=True
        )
        self._rules = {"users": self._users, "items": self._items}

    def decode(self, raw: bytes) -> Any:
        """The record's mapped members; raises msgspec's errors when its shape is unreadable."""
        return self._decode(raw)

    def user_id(self, record: Any) -> str | None:
        """The user id (anonymous records have none: Personalize's users are user ids)."""
        return _id(getattr(record, self._user_id)) if self._users else None

    def item(self, record: Any) -> tuple[str | None, tuple[Any, ...]]:
        """The item id, as the interactions take it (the first of the id properties), and the
        raw values of the `[items]` fields, in the rules' order (None: absent)."""
        props = None if self._props is None else self._props(record)
        if props is None:
            return None, ()
        for value in self._item_ids(props):
            item_id = _id(value)
            if item_id is not None:
                return item_id, self._item_values(props)
        return None, ()

    def user_values(self, record: Any) -> tuple[Any, ...]:
        """The raw values of the `[users]` fields, in the rules' order (None: absent)."""
        return self._user_values(record)

    def fields(
        self, dataset: str, values: tuple[Any, ...]
    ) -> tuple[dict[str, FieldValue], list[str]]:
        """The mapped fields of `dataset`'s raw values, and the reasons of those left out."""
        fields: dict[str, FieldValue] = {}
        problems: list[str] = []
        for rule, raw in zip(self._rules[dataset], values, strict=True):
            value, problem = field_value(rule, raw)
            if value is not None:
                fields[rule.name] = value
            elif problem is not None:
                problems.append(problem)
        return fields, problems

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


def _tuple_getter(
    getters: list[Callable[[Any], Any]], attrs: list[str | None], always_tuple: bool = False
) -> Callable[[Any], tuple[Any, ...]]:
    """One call giving every value as a tuple: when each is a plain attribute (`attrs`), one
    C attrgetter; otherwise the `getters`, one by one."""
    if attrs and all(attrs):
        if len(attrs) > 1:
            return operator.attrgetter(*attrs)  # type: ignore[arg-type]
        single = operator.attrgetter(attrs[0])  # type: ignore[arg-type]
        return lambda record: (single(record),)
    if always_tuple and not attrs:
        return lambda _record: ()
    return lambda record: tuple([get(record) for get in getters])


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
