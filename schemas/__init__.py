"""The contracts between stages: one model per topic record, plus the weight rules."""

from schemas.amplitude import (
    AmplitudeEvent,
    InvalidEvent,
    NormalizedEvent,
    normalize,
    scoped_id,
)
from schemas.interaction import (
    INTERACTION_SCHEMA_VERSION,
    MAX_ID_LENGTH,
    MAX_TIMESTAMP_MS,
    Interaction,
    limit_problem,
)
from schemas.rules import PERSONALIZE_EVENT_TYPE_BUDGET, Rule, RuleSet, load_rules

__all__ = [
    "INTERACTION_SCHEMA_VERSION",
    "MAX_ID_LENGTH",
    "MAX_TIMESTAMP_MS",
    "PERSONALIZE_EVENT_TYPE_BUDGET",
    "AmplitudeEvent",
    "Interaction",
    "InvalidEvent",
    "NormalizedEvent",
    "Rule",
    "RuleSet",
    "limit_problem",
    "load_rules",
    "normalize",
    "scoped_id",
]
