"""A weighted interaction: the record on the interactions topic, a contract for other teams.

Compatibility rule: fields may be added (optional, with defaults); a field is never removed,
renamed or retyped without a new topic. `INTERACTION_SCHEMA_VERSION` counts additions.

Values, not shapes, changed once within version 1 (docs/amplitude-events.md, "Interactions"):
`event_id` is derived from (actor, insert id) rather than the insert id alone, an anonymous
event's `session_id` is prefixed by its device id, and `timestamp_ms` is the event's own time
for Export-format events too. Consumers reading the fields keep working.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INTERACTION_SCHEMA_VERSION = 1


class Interaction(BaseModel):
    """One ML-relevant event, weighted and ready for Personalize."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = INTERACTION_SCHEMA_VERSION
    event_id: str = Field(
        min_length=1,
        max_length=256,
        description=(
            "Stable id: a digest of (user id, else device id; insert_id, else $insert_id, else "
            "uuid), else of the raw event. Re-sends share it; two users' equal insert ids do not."
        ),
    )
    user_id: str | None = Field(
        default=None, max_length=256, description="Amplitude user_id; null for anonymous events."
    )
    device_id: str | None = Field(default=None, description="Amplitude device_id, when sent.")
    session_id: str = Field(
        min_length=1,
        max_length=256,
        description=(
            "Amplitude's session_id for a known user; `<device_id>:<session_id>` for an anonymous "
            "one (a digest stands in for a long device id); `<user or device id>:<YYYYMMDD>` "
            "outside a session."
        ),
    )
    item_id: str = Field(min_length=1, max_length=256)
    event_type: str = Field(description="The canonical Amplitude event type (after aliases).")
    personalize_event_type: str = Field(
        description="The Personalize eventType this event is sent as (see the rules file)."
    )
    weight: float = Field(description="The rule's weight; sent to Personalize as eventValue.")
    timestamp_ms: int = Field(
        description=(
            "The event's own time, ms since the epoch (`time`, else `event_time`, ...: "
            "schemas/amplitude.py); the processing time only for an event that carried none."
        )
    )
    impression: list[str] = Field(
        default_factory=list, max_length=25, description="Item ids shown alongside, if any."
    )
    recommendation_id: str | None = Field(default=None, max_length=40)
    insert_id: str | None = Field(
        default=None, description="Amplitude's insert_id (the Export format's $insert_id), if sent."
    )

    @property
    def key(self) -> str:
        """Topic key: the user id, else the device id, so one actor stays on one partition."""
        return self.user_id or self.device_id or self.session_id
