"""The Personalize sink: interactions topic -> PutEvents, offsets committed after delivery."""

from sinks.settings import SinkSettings

__all__ = ["SinkSettings"]
