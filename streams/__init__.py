"""The stream stage: validate, filter and weight raw events into the interactions topic."""

from streams.settings import StreamsSettings
from streams.weighting import DeadLetter, Filtered, Weighed, Weigher

__all__ = ["DeadLetter", "Filtered", "StreamsSettings", "Weighed", "Weigher"]
