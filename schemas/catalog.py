"""Users and items: the records on the users and items topics, a contract like interactions.

Each record is the latest known state of one user (one item): the Users-dataset (Items-dataset)
fields the rules map, by their Personalize schema names (`COUNTRY`, `CATEGORY`), with values
already in Personalize's form (a categorical string, `|` between several values; a number).
Both topics are compacted and keyed by the id, so a reader gets every user's newest fields;
a sink sends a record whole (`PutUsers` and `PutItems` replace what Personalize holds).

Compatibility rule as for interactions: fields may be added, optional; none is removed,
renamed or retyped without a new topic. `CATALOG_SCHEMA_VERSION` counts additions.
"""

from typing import Annotated, Literal

import msgspec

from schemas.interaction import MAX_ID_LENGTH, MAX_TIMESTAMP_MS

CATALOG_SCHEMA_VERSION = 1

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
_FieldName = Annotated[str, msgspec.Meta(min_length=1, max_length=150, pattern=r"^[A-Za-z_]\w*$")]
FieldValue = str | int | float | bool
_Time = Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMESTAMP_MS)]


class UserRecord(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One user's Users-dataset fields; the record on the users topic, keyed by `user_id`."""

    schema_version: Literal[1] = CATALOG_SCHEMA_VERSION
    user_id: _Id
    fields: dict[_FieldName, FieldValue]
    updated_at_ms: _Time  # the time of the newest Amplitude record these fields came from


class ItemRecord(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One item's Items-dataset fields; the record on the items topic, keyed by `item_id`."""

    schema_version: Literal[1] = CATALOG_SCHEMA_VERSION
    item_id: _Id
    fields: dict[_FieldName, FieldValue]
    updated_at_ms: _Time


catalog_encoder = msgspec.json.Encoder()
_user_decoder = msgspec.json.Decoder(UserRecord)
_item_decoder = msgspec.json.Decoder(ItemRecord)


class InvalidCatalogRecord(ValueError):
    """The bytes are not a user (item) record; the message says why, without the values."""


def decode_user(value: bytes) -> UserRecord:
    """A users-topic value, decoded; raises `InvalidCatalogRecord` when it is none."""
    return _decode(_user_decoder, value)


def decode_item(value: bytes) -> ItemRecord:
    """An items-topic value, decoded; raises `InvalidCatalogRecord` when it is none."""
    return _decode(_item_decoder, value)


def _decode(decoder: msgspec.json.Decoder, value: bytes):  # type: ignore[no-untyped-def]
    try:
        return decoder.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidCatalogRecord(str(e)) from None
