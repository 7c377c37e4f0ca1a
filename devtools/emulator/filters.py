"""Personalize's interaction filters, as the emulator applies them to GetRecommendations.

Only the forms the product creates (and their `$PARAMETER` variants) are emulated:
`EXCLUDE|INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("a", "b")` and, on item metadata
(what PutItems sent: catalog.py), `EXCLUDE|INCLUDE ItemID WHERE Items.CATEGORY IN ("a", "b")`.
As in Personalize, event types match case-insensitively and nothing else does (item metadata
values match exactly; an item's categorical value matches when any of its `|`-separated
categories is listed); a filter sees the 100 most recent interactions per user per event type
(the default of an adjustable quota). Other expressions are refused at CreateFilter.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

RECENT_INTERACTIONS_PER_TYPE = 100

_EXPRESSION = re.compile(
    r"^\s*(EXCLUDE|INCLUDE)\s+ItemID\s+WHERE\s+Interactions\.EVENT_TYPE\s+IN\s*\((.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ITEMS_EXPRESSION = re.compile(
    r"^\s*(EXCLUDE|INCLUDE)\s+ItemID\s+WHERE\s+Items\.([A-Za-z_][A-Za-z0-9_]*)\s+IN\s*\((.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = re.compile(r'\s*"([^"]*)"\s*(?:,|$)')
_PARAMETER = re.compile(r"^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*$")


class FilterExpressionError(ValueError):
    """The expression is not one the emulator understands (InvalidInputException)."""


@dataclass(frozen=True)
class InteractionFilter:
    include: bool
    event_types: frozenset[str]  # lower-cased; empty when given by a parameter
    parameter: str | None = None

    def event_types_for(self, filter_values: Mapping[str, str]) -> frozenset[str]:
        """The types the filter names, its `$PARAMETER` taken from the request's filterValues
        (Personalize's format: quoted values separated by commas, e.g. '"flag","hide"')."""
        if self.parameter is None:
            return self.event_types
        raw = filter_values.get(self.parameter)
        if raw is None:
            raise FilterExpressionError(f"filterValues lacks {self.parameter}")
        return frozenset(_quoted_values(raw))

    def keeps(
        self,
        put_events: Iterable[dict[str, Any]],
        user_id: str | None,
        filter_values: Mapping[str, str],
        items: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Callable[[str], bool]:
        """Whether the filter lets an item through, for this user's recent interactions."""
        matched = matching_items(put_events, user_id, self.event_types_for(filter_values))
        if self.include:
            return matched.__contains__
        return lambda item: item not in matched


@dataclass(frozen=True)
class ItemFilter:
    """`Items.<FIELD> IN (...)`: on the item metadata PutItems sent (by schema field name)."""

    include: bool
    field: str
    values: frozenset[str]  # exact; empty when given by a parameter
    parameter: str | None = None

    def keeps(
        self,
        put_events: Iterable[dict[str, Any]],
        user_id: str | None,
        filter_values: Mapping[str, str],
        items: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Callable[[str], bool]:
        """Whether the filter lets an item through, by its metadata (none: it matches none)."""
        wanted = self.values
        if self.parameter is not None:
            raw = filter_values.get(self.parameter)
            if raw is None:
                raise FilterExpressionError(f"filterValues lacks {self.parameter}")
            wanted = frozenset(_quoted_values(raw, lower=False))
        metadata = items or {}

        def matches(item: str) -> bool:
            value = metadata.get(item, {}).get(self.field)
            if value is None:
                return False
            return bool(set(str(value).split("|")) & wanted)

        if self.include:
            return matches
        return lambda item: not matches(item)


def parse(expression: str) -> InteractionFilter | ItemFilter:
    on_items = _ITEMS_EXPRESSION.match(expression)
    if on_items is not None:
        include = on_items.group(1).upper() == "INCLUDE"
        field, values = on_items.group(2), on_items.group(3)
        if parameter := _PARAMETER.match(values):
            return ItemFilter(include, field, frozenset(), parameter.group(1))
        return ItemFilter(include, field, frozenset(_quoted_values(values, lower=False)))
    match = _EXPRESSION.match(expression)
    if match is None:
        raise FilterExpressionError(
            "the emulator understands only "
            '`EXCLUDE|INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("type", ...)` '
            'and `EXCLUDE|INCLUDE ItemID WHERE Items.<FIELD> IN ("value", ...)`'
        )
    include = match.group(1).upper() == "INCLUDE"
    values = match.group(2)
    parameter = _PARAMETER.match(values)
    if parameter:
        return InteractionFilter(include, frozenset(), parameter.group(1))
    return InteractionFilter(include, frozenset(_quoted_values(values)))


def _quoted_values(values: str, lower: bool = True) -> list[str]:
    found, position = [], 0
    while position < len(values):
        match = _QUOTED.match(values, position)
        if match is None:
            raise FilterExpressionError(f"cannot read the value list ({values})")
        found.append(match.group(1).lower() if lower else match.group(1))
        position = match.end()
    if not found:
        raise FilterExpressionError("the value list is empty")
    return found


def matching_items(
    put_events: Iterable[dict[str, Any]], user_id: str | None, event_types: frozenset[str]
) -> set[str]:
    """Items among the user's 100 most recent interactions of each of `event_types`."""
    if not user_id:
        return set()
    recent: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for call in put_events:
        if call.get("userId") != user_id:
            continue
        for event in call["eventList"]:
            event_type = event["eventType"].lower()
            if event_type in event_types and "itemId" in event:
                recent[event_type].append((float(event["sentAt"]), event["itemId"]))
    items: set[str] = set()
    for events in recent.values():
        events.sort(reverse=True)
        items.update(item for _, item in events[:RECENT_INTERACTIONS_PER_TYPE])
    return items
