"""Users or items: what differs between the two sinks, and the request each record becomes.

Personalize reads a record's `properties` as a JSON object whose keys are the camelCase of the
dataset schema's field names (NUMBER_OF_RATINGS is numberOfRatings) and whose categorical
values carry several categories separated by `|`, as the records already do (schemas/catalog.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
import orjson
from botocore.model import Shape

from core.service_model import validate
from schemas.catalog import ItemRecord, UserRecord, decode_item, decode_user
from sinks.catalog.settings import CatalogSinkSettings

Record = UserRecord | ItemRecord
_EVENTS_MODEL = botocore.session.get_session().get_service_model("personalize-events")


@dataclass(frozen=True)
class Kind:
    name: str  # "users" or "items": the metric label, the command's first word
    operation: str  # the boto3 method
    members: str  # the request's list member
    id_key: str  # each list entry's id member
    decode: Callable[[bytes], Record]
    topic: str
    dead_letter_topic: str
    dataset_arn: str
    group_id: str
    status_port: int

    def request(self, records: list[Record]) -> dict[str, Any]:
        """The PutUsers/PutItems keyword arguments for up to 10 records."""
        return {"datasetArn": self.dataset_arn, self.members: [self.entry(r) for r in records]}

    def problems(self, record: Record) -> list[str]:
        """Why Personalize would refuse this record whatever else the call holds (botocore's
        model: the id's and properties' lengths), without its values; empty when none.
        Checked when consumed, so that a sure refusal costs no halving calls of the quota."""
        shape: Shape = (
            _EVENTS_MODEL.operation_model(self.operation_name).input_shape.members[self.members]
        ).member  # type: ignore[attr-defined]
        return validate(shape, self.entry(record), self.members[:-1])

    @property
    def operation_name(self) -> str:
        return "PutUsers" if self.members == "users" else "PutItems"

    def entry(self, record: Record) -> dict[str, str]:
        entry = {self.id_key: record_id(record)}
        if record.fields:  # `properties` has a minimum length of 1: a record without any omits it
            entry["properties"] = properties(record.fields)
        return entry


def record_id(record: Record) -> str:
    return record.user_id if isinstance(record, UserRecord) else record.item_id


def camel_case(field_name: str) -> str:
    """A schema field name as Personalize's `properties` key: NUMBER_OF_RATINGS, numberOfRatings."""
    words = [w for w in field_name.lower().split("_") if w]
    return words[0] + "".join(w.capitalize() for w in words[1:]) if words else field_name


def properties(fields: dict[str, Any]) -> str:
    return orjson.dumps({camel_case(name): value for name, value in fields.items()}).decode()


def users(settings: CatalogSinkSettings) -> Kind:
    return Kind(
        name="users",
        operation="put_users",
        members="users",
        id_key="userId",
        decode=decode_user,
        topic=settings.users_topic,
        dead_letter_topic=settings.users_dead_letter_topic,
        dataset_arn=settings.users_dataset_arn or "",
        group_id=settings.users_sink_group_id,
        status_port=settings.users_sink_status_port,
    )


def items(settings: CatalogSinkSettings) -> Kind:
    return Kind(
        name="items",
        operation="put_items",
        members="items",
        id_key="itemId",
        decode=decode_item,
        topic=settings.items_topic,
        dead_letter_topic=settings.items_dead_letter_topic,
        dataset_arn=settings.items_dataset_arn or "",
        group_id=settings.items_sink_group_id,
        status_port=settings.items_sink_status_port,
    )
