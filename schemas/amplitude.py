"""An Amplitude event as the webhook and the Export API deliver it: the raw topic's record."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AmplitudeEvent(BaseModel):
    """One Amplitude event. Unknown fields are kept: Amplitude adds fields over time."""

    model_config = ConfigDict(extra="allow")

    event_type: str = Field(min_length=1)
    user_id: str | None = None
    device_id: str | None = None
    time: int | None = Field(default=None, description="Event time, ms since the epoch.")
    insert_id: str | None = Field(
        default=None, description="Amplitude's de-duplication key: same id, same event."
    )
    session_id: int | None = Field(
        default=None, description="Session start in ms since the epoch; -1 outside a session."
    )
    event_id: int | None = None
    uuid: str | None = None
    event_properties: dict[str, Any] = Field(default_factory=dict)
    user_properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_actor(self) -> "AmplitudeEvent":
        if not self.user_id and not self.device_id:
            raise ValueError("event has neither user_id nor device_id")
        return self

    @property
    def actor_id(self) -> str:
        """The id the pipeline keys by: the user id, else the device id (anonymous)."""
        return self.user_id or self.device_id  # type: ignore[return-value]
