"""The history sink: interactions topic -> CSV files for Personalize's bulk import."""

from sinks.history.settings import HistorySettings
from sinks.history.sink import run

__all__ = ["HistorySettings", "run"]
