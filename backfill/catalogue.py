"""Read a catalogue file (CSV or NDJSON) into Items-dataset records for the items topic.

Each row is one item: its id in the first present of the id columns (the stream stage's item
id properties, STREAMS_ITEM_ID_PROPERTIES, by default), and the `[items]` fields of the rules,
each read from the column named like its source's property (`event_properties.category` ->
`category`), mapped as the stream stage maps a live event's (schemas/catalog_fields.py). A
row that cannot be a record (no id, unreadable, a value the field refuses, no field at all)
is reported with its line number and the reason, and skipped; the other rows go on.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from schemas import MAX_ID_LENGTH, ItemRecord
from schemas.catalog_fields import field_value
from schemas.rules import DatasetRules

DEFAULT_ID_COLUMNS = ("item_id", "itemId", "content_id")


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str  # names the column or the field, never the value


def rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, row, None) per row; (line number, None, reason) for an unreadable one.
    A `.csv` file is CSV with a header row; anything else, NDJSON (blank lines skipped)."""
    with path.open(encoding="utf-8", newline="") as text:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(text)
            for row in reader:
                if None in row:  # more cells than the header names
                    yield reader.line_num, None, "more cells than the header has columns"
                else:
                    yield reader.line_num, dict(row), None
            return
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield number, None, "malformed JSON"
                continue
            if isinstance(value, dict):
                yield number, value, None
            else:
                yield number, None, "not a JSON object"


def item_record(
    row: dict[str, Any], items: DatasetRules, id_columns: tuple[str, ...], now_ms: int
) -> tuple[ItemRecord | None, str | None]:
    """The row's record, or (None, reason)."""
    item_id = None
    for column in id_columns:
        value = row.get(column)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            item_id = value.strip()
            break
    if item_id is None:
        return None, f"no item id (columns {', '.join(id_columns)})"
    if len(item_id) > MAX_ID_LENGTH:
        return None, f"item id longer than {MAX_ID_LENGTH}"
    fields = {}
    for rule in items.field:
        column = rule.path[1] or rule.source
        value, problem = field_value(rule, row.get(column))
        if problem is not None:
            return None, f"{rule.name} (column {column}): {problem}"
        if value is not None:
            fields[rule.name] = value
    if not fields:
        return None, "no [items] field has a value"
    return ItemRecord(item_id=item_id, fields=fields, updated_at_ms=now_ms), None
