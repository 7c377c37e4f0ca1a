"""The contracts between stages: one model per topic record, plus the weight rules."""

from schemas.amplitude import (
    AmplitudeEvent,
    InvalidEvent,
    NormalizedEvent,
    normalize,
    scoped_id,
)
from schemas.interaction import INTERACTION_SCHEMA_VERSION, Interaction
from schemas.rules import PERSONALIZE_EVENT_TYPE_BUDGET, Rule, RuleSet, load_rules

__all__ = [
    "INTERACTION_SCHEMA_VERSION",
    "PERSONALIZE_EVENT_TYPE_BUDGET",
    "AmplitudeEvent",
    "Interaction",
    "InvalidEvent",
    "NormalizedEvent",
    "Rule",
    "RuleSet",
    "load_rules",
    "normalize",
    "scoped_id",
]
