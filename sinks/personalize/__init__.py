"""The Personalize sink: interactions topic -> PutEvents, offsets committed after delivery."""

from sinks.personalize.settings import SinkSettings
from sinks.personalize.sink import run

__all__ = ["SinkSettings", "run"]
