"""Map an Export API event onto the webhook's (HTTP API) field names.

Export rows name Amplitude's de-duplication key `$insert_id` and give the event time as
`event_time` ("2024-01-31 12:00:00.123456", UTC); live events carry `insert_id` and `time`
(ms since the epoch). Normalising here means a backfilled event and its live twin share one
insert id, and so one interaction. All other fields pass through untouched.
"""

from datetime import UTC, datetime
from typing import Any

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")


def normalize(event: dict[str, Any]) -> dict[str, Any]:
    if "insert_id" not in event and isinstance(event.get("$insert_id"), str):
        event["insert_id"] = event["$insert_id"]
    if "time" not in event and isinstance(event.get("event_time"), str):
        parsed = parse_event_time(event["event_time"])
        if parsed is not None:
            event["time"] = parsed
    return event


def parse_event_time(text: str) -> int | None:
    """ms since the epoch for Amplitude's UTC timestamp strings; None when unreadable."""
    cleaned = text.strip().removesuffix("Z").removesuffix("+00:00")
    for layout in _TIME_FORMATS:
        try:
            moment = datetime.strptime(cleaned, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(moment.timestamp() * 1000)
    return None
