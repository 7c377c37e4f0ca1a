"""Interactions as rows of Personalize's bulk-import interactions CSV.

Columns: USER_ID, ITEM_ID, TIMESTAMP (epoch seconds), EVENT_TYPE, EVENT_VALUE, IMPRESSION
(item ids joined by "|"), RECOMMENDATION_ID. Bulk import needs a USER_ID; an anonymous event is
written with "device:<device id>" so it is kept and stays distinguishable from real user ids.
"""

import csv
import io

from schemas import InteractionFields

HEADER = (
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
    "IMPRESSION",
    "RECOMMENDATION_ID",
)


def header_line() -> bytes:
    return _line(HEADER)


def row(interaction: InteractionFields) -> bytes:
    user = interaction.user_id or f"device:{interaction.key}"  # the key: device, else session
    return _line(
        (
            user,
            interaction.item_id,
            str(interaction.timestamp_ms // 1000),
            interaction.personalize_event_type,
            repr(interaction.weight),
            "|".join(interaction.impression),
            interaction.recommendation_id or "",
        )
    )


def _line(values: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode()
