"""The contracts between stages: one model per topic record (with its msgspec twin), the
raw-event rule (`check_actor`), and the weight rules."""

from schemas.amplitude import (
    AmplitudeEvent,
    InvalidEvent,
    NormalizedEvent,
    check_actor,
    check_event,
    check_user_record,
    normalize,
    scoped_id,
)
from schemas.catalog import (
    CATALOG_SCHEMA_VERSION,
    InvalidCatalogRecord,
    ItemRecord,
    UserRecord,
    catalog_encoder,
    decode_item,
    decode_user,
)
from schemas.interaction import (
    INTERACTION_SCHEMA_VERSION,
    MAX_ID_LENGTH,
    MAX_IMPRESSION_ITEMS,
    MAX_RECOMMENDATION_ID_LENGTH,
    MAX_TIMESTAMP_MS,
    Interaction,
    limit_problem,
)
from schemas.interaction_codec import (
    InteractionFields,
    InteractionRecord,
    InvalidInteraction,
    decode_interaction,
    interaction_encoder,
)
from schemas.rules import PERSONALIZE_EVENT_TYPE_BUDGET, Rule, RuleSet, load_rules

__all__ = [
    "CATALOG_SCHEMA_VERSION",
    "INTERACTION_SCHEMA_VERSION",
    "MAX_ID_LENGTH",
    "MAX_IMPRESSION_ITEMS",
    "MAX_RECOMMENDATION_ID_LENGTH",
    "MAX_TIMESTAMP_MS",
    "PERSONALIZE_EVENT_TYPE_BUDGET",
    "AmplitudeEvent",
    "Interaction",
    "InteractionFields",
    "InteractionRecord",
    "InvalidCatalogRecord",
    "InvalidEvent",
    "InvalidInteraction",
    "ItemRecord",
    "NormalizedEvent",
    "Rule",
    "RuleSet",
    "UserRecord",
    "catalog_encoder",
    "check_actor",
    "check_event",
    "check_user_record",
    "decode_interaction",
    "decode_item",
    "decode_user",
    "interaction_encoder",
    "limit_problem",
    "load_rules",
    "normalize",
    "scoped_id",
]
