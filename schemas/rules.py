"""The weight rules as data: loaded once at start-up, validated, refused loudly when wrong.

Besides the per-event weights, the rules decide how Personalize trains on what the sink sends
(the `[personalize]` table, see docs/personalize.md): which Personalize event types train and
with which weight, which are negative feedback (filters, never training), which are impressions.
Every rule a Personalize plan would be refused for is refused here, when a service starts.

The `[users]` and `[items]` tables name the Amplitude values that become Users-dataset and
Items-dataset fields (`FieldRule`, checked against Personalize's dataset limits below).
"""

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, ValidationError, model_validator

# AWS quota: distinct event types + optional metadata columns in an interactions dataset.
PERSONALIZE_EVENT_TYPE_BUDGET = 10
# AWS limit: entries of a solution's eventsConfig.eventParametersList (botocore's model: max 10).
EVENT_PARAMETERS_LIMIT = 10
DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")
# AWS limits (Personalize's custom Users / Items dataset requirements): metadata fields per
# schema, besides the id and reserved keywords such as CREATION_TIMESTAMP.
USERS_FIELD_LIMIT = 25
ITEMS_FIELD_LIMIT = 100
# AWS limit: a categorical value (several joined by "|") has at most 1000 characters.
CATEGORICAL_MAX_CHARS = 1000
CREATION_TIMESTAMP = "CREATION_TIMESTAMP"
# Names a dataset reserves: the id, and the keywords Personalize gives a meaning and a type.
_RESERVED = {
    "users": {"USER_ID"},
    "items": {"ITEM_ID"},
}
_INTERACTION_KEYWORDS = {
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
    "IMPRESSION",
    "RECOMMENDATION_ID",
    "EVENT_ATTRIBUTION_SOURCE",
}
# The two nested objects of an Amplitude record a source may name a property of.
USER_PROPERTIES, EVENT_PROPERTIES = "user_properties", "event_properties"
FieldType = Literal["categorical", "int", "long", "float", "timestamp"]


class Rule(BaseModel):
    """One weighted Amplitude event type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    weight: StrictFloat
    # interaction: a positive (weight > 0) or negative (weight < 0) signal about the item.
    # impression: the item was only shown; sent (with its impression list) and kept in the
    # dataset, never trained on as interest (see docs/personalize.md, "Impressions").
    kind: Literal["interaction", "impression"] = "interaction"
    personalize_event_type: str = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _check(self) -> "Rule":
        if self.weight == 0:
            raise ValueError(
                f"rule {self.event_type!r}: weight 0 carries no signal; leave the event out"
            )
        if self.kind == "impression" and self.weight < 0:
            raise ValueError(f"rule {self.event_type!r}: an impression cannot be negative")
        return self


class PersonalizeOptions(BaseModel):
    """The `[personalize]` table: explicit choices over what the plan derives from the rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    training_event_types: list[str] | None = Field(
        default=None,
        description="Personalize event types the solution trains on; default: every positive one.",
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Solution weight (0..1) per training type; default: derived (see plan).",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="eventValueThreshold per training type; default: the type's smallest weight.",
    )
    negative_filter_event_types: list[str] | None = Field(
        default=None,
        description="Types the negative-feedback filter excludes; default: every negative one.",
    )
    exclude_engaged_event_types: list[str] = Field(
        default_factory=list,
        description="Optional second filter: also exclude items the user acted on with these.",
    )
    auto_training_days: int | None = Field(
        default=None,
        ge=1,
        le=30,
        description="Retrain every N days (Personalize's automatic training); default: off.",
    )


class FieldRule(BaseModel):
    """One dataset field: its Personalize name, the Amplitude value it comes from, its type.

    `source`: a top-level Amplitude field (`country`), `user_properties.<name>`, or (items)
    `event_properties.<name>`. `type`: categorical (a string; with `multi_value`, a list joined
    by "|"), int / long / float, or timestamp (items' CREATION_TIMESTAMP: epoch seconds, read
    from any time Amplitude writes: ms, s, or a UTC string).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=150)
    source: str = Field(min_length=1, max_length=300)
    type: FieldType = "categorical"
    multi_value: bool = False
    max_length: int = Field(default=CATEGORICAL_MAX_CHARS, ge=1, le=CATEGORICAL_MAX_CHARS)

    @model_validator(mode="after")
    def _check(self) -> "FieldRule":
        head, dot, rest = self.source.partition(".")
        if dot and (head not in (USER_PROPERTIES, EVENT_PROPERTIES) or not rest):
            raise ValueError(
                f"field {self.name}: source {self.source!r} must be a top-level field, "
                f"{USER_PROPERTIES}.<name> or {EVENT_PROPERTIES}.<name>"
            )
        if not dot and head in (USER_PROPERTIES, EVENT_PROPERTIES):
            raise ValueError(f"field {self.name}: source {self.source!r} names no property")
        if self.multi_value and self.type != "categorical":
            raise ValueError(f"field {self.name}: only a categorical field can be multi_value")
        if (self.type == "timestamp") != (self.name == CREATION_TIMESTAMP):
            raise ValueError(
                f"field {self.name}: type timestamp is for {CREATION_TIMESTAMP} only, and "
                f"{CREATION_TIMESTAMP} is a timestamp (Personalize's reserved long, seconds)"
            )
        return self

    @property
    def path(self) -> tuple[str, str | None]:
        """(top-level field, property name or None)."""
        head, dot, rest = self.source.partition(".")
        return (head, rest) if dot else (head, None)


class DatasetRules(BaseModel):
    """The `[users]` or `[items]` table: the fields of one Personalize dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: list[FieldRule] = Field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.field]


class RuleSet(BaseModel):
    """The whole table, with the lookup the stream stage uses per event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    metadata_columns: list[str] = Field(default_factory=list)
    rule: list[Rule] = Field(min_length=1)
    personalize: PersonalizeOptions = Field(default_factory=PersonalizeOptions)
    users: DatasetRules = Field(default_factory=DatasetRules)
    items: DatasetRules = Field(default_factory=DatasetRules)

    @model_validator(mode="after")
    def _check(self) -> "RuleSet":
        self._check_datasets()
        seen: dict[str, str] = {}
        for rule in self.rule:
            for name in (rule.event_type, *rule.aliases):
                if name in seen:
                    raise ValueError(
                        f"event type {name!r} appears twice (in rules for {seen[name]!r} "
                        f"and {rule.event_type!r})"
                    )
                seen[name] = rule.event_type
        types = sorted({r.personalize_event_type for r in self.rule})
        used = len(types) + len(self.metadata_columns)
        if used > PERSONALIZE_EVENT_TYPE_BUDGET:
            raise ValueError(
                f"rules use {len(types)} Personalize event types ({', '.join(types)}) and "
                f"{len(self.metadata_columns)} metadata columns: {used} > the dataset limit of "
                f"{PERSONALIZE_EVENT_TYPE_BUDGET}; group event types in personalize_event_type"
            )
        self._check_signs()
        self._check_personalize_options()
        return self

    def _check_datasets(self) -> None:
        """Personalize's Users and Items schema limits, refused before anything is sent."""
        for dataset, limit in (("users", USERS_FIELD_LIMIT), ("items", ITEMS_FIELD_LIMIT)):
            fields = getattr(self, dataset).field
            if not fields:
                continue
            names = [f.name for f in fields]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"[{dataset}]: field {', '.join(twice)} appears twice")
            for f in fields:
                upper = f.name.upper()
                if upper in _RESERVED[dataset] or (
                    upper in _INTERACTION_KEYWORDS - _RESERVED[dataset]
                ):
                    raise ValueError(
                        f"[{dataset}]: {f.name} is a name Personalize reserves "
                        f"({', '.join(sorted(_RESERVED[dataset] | _INTERACTION_KEYWORDS))}); "
                        "the id comes from the record itself"
                    )
                if f.type == "timestamp" and dataset != "items":
                    raise ValueError(f"[{dataset}]: {f.name}: only items have a creation time")
                if dataset == "users" and f.path[0] == EVENT_PROPERTIES:
                    raise ValueError(
                        f"[users]: {f.name}: a user field comes from a top-level field or "
                        f"{USER_PROPERTIES}, not from an event's {EVENT_PROPERTIES}"
                    )
                if dataset == "items" and f.path[0] != EVENT_PROPERTIES:
                    raise ValueError(
                        f"[items]: {f.name}: an item field comes from {EVENT_PROPERTIES}.<name>"
                    )
            metadata = [f for f in fields if f.name != CREATION_TIMESTAMP]
            if len(metadata) > limit:
                raise ValueError(
                    f"[{dataset}]: {len(metadata)} metadata fields > Personalize's limit of "
                    f"{limit} metadata fields for a {dataset.capitalize()} dataset"
                )
            if not metadata:
                raise ValueError(
                    f"[{dataset}]: a {dataset.capitalize()} dataset needs at least one metadata "
                    f"field besides {CREATION_TIMESTAMP}"
                )

    def _check_signs(self) -> None:
        """One Personalize type, one meaning: a filter or a weight cannot tell mixed rules apart."""
        for ptype in sorted(self.personalize_event_types):
            rules = [r for r in self.rule if r.personalize_event_type == ptype]
            signs = {"negative" if r.weight < 0 else r.kind for r in rules}
            if len(signs) > 1:
                detail = ", ".join(
                    f"{r.event_type} ({'negative' if r.weight < 0 else r.kind})" for r in rules
                )
                raise ValueError(
                    f"Personalize event type {ptype!r} mixes {detail}: give positive, negative "
                    "and impression events their own personalize_event_type"
                )

    def _check_personalize_options(self) -> None:
        options = self.personalize
        produced = self.personalize_event_types
        negative, impressions = self.negative_event_types, self.impression_event_types
        training = self.training_event_types
        for name, types in (
            ("training_event_types", options.training_event_types or []),
            ("negative_filter_event_types", options.negative_filter_event_types or []),
            ("exclude_engaged_event_types", options.exclude_engaged_event_types),
            ("weights", list(options.weights)),
            ("thresholds", list(options.thresholds)),
        ):
            for ptype in types:
                if ptype not in produced:
                    raise ValueError(
                        f"personalize.{name}: event type {ptype!r} is produced by no rule "
                        f"(the rules produce {', '.join(sorted(produced))})"
                    )
        for ptype in options.training_event_types or []:
            if ptype in negative or ptype in impressions:
                what = "a negative" if ptype in negative else "an impression"
                raise ValueError(
                    f"personalize.training_event_types: {ptype!r} is {what} event type; "
                    "Personalize trains on every event as a positive signal, so it would teach "
                    "interest (negative feedback belongs in the filter)"
                )
        for name, mapping in (("weights", options.weights), ("thresholds", options.thresholds)):
            for ptype in mapping:
                if ptype not in training:
                    raise ValueError(
                        f"personalize.{name}: {ptype!r} is not a training event type "
                        f"(training: {', '.join(sorted(training))})"
                    )
        for ptype, weight in options.weights.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(
                    f"personalize.weights: {ptype!r} = {weight} is outside [0, 1], "
                    "the range Personalize accepts for an event type's weight"
                )
        for ptype in options.negative_filter_event_types or []:
            if ptype not in negative:
                raise ValueError(
                    f"personalize.negative_filter_event_types: {ptype!r} is not a negative "
                    "event type; the filter would hide items users liked"
                )
        if len(training) > EVENT_PARAMETERS_LIMIT:
            raise ValueError(
                f"{len(training)} training event types > the solution's limit of "
                f"{EVENT_PARAMETERS_LIMIT} ({', '.join(sorted(training))})"
            )

    def by_name(self) -> dict[str, Rule]:
        """Every accepted name (canonical and alias) to its rule: exact matching only."""
        table: dict[str, Rule] = {}
        for rule in self.rule:
            for name in (rule.event_type, *rule.aliases):
                table[name] = rule
        return table

    @property
    def personalize_event_types(self) -> set[str]:
        return {r.personalize_event_type for r in self.rule}

    @property
    def negative_event_types(self) -> set[str]:
        """Types whose rules weigh below 0: negative feedback, for filters only."""
        return {r.personalize_event_type for r in self.rule if r.weight < 0}

    @property
    def impression_event_types(self) -> set[str]:
        """Types whose rules are impressions: exposure, not interest."""
        return {r.personalize_event_type for r in self.rule if r.kind == "impression"}

    @property
    def training_event_types(self) -> list[str]:
        """The types the solution trains on, strongest rule first (the `[personalize]` list,
        else every type whose rules are positive interactions)."""
        chosen = self.personalize.training_event_types
        excluded = self.negative_event_types | self.impression_event_types
        types = chosen if chosen is not None else self.personalize_event_types - excluded
        return sorted(set(types), key=lambda t: (-self.strongest_weight(t), t))

    def strongest_weight(self, personalize_event_type: str) -> float:
        """The largest Amplitude weight among the rules sent as this Personalize type."""
        return max(
            r.weight for r in self.rule if r.personalize_event_type == personalize_event_type
        )


class RulesError(ValueError):
    """The rules file cannot be used; the message says where and why."""


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Load and validate a rules file (the packaged default when `path` is None)."""
    source = Path(path) if path else DEFAULT_RULES_PATH
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"cannot read rules file {source}: {exc}") from exc
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"invalid rules file {source}:\n{exc}") from exc
