"""The weight rules as data: loaded once at start-up, validated, refused loudly when wrong."""

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, ValidationError, model_validator

# AWS quota: distinct event types + optional metadata columns in an interactions dataset.
PERSONALIZE_EVENT_TYPE_BUDGET = 10
DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")


class Rule(BaseModel):
    """One weighted Amplitude event type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    weight: StrictFloat
    kind: Literal["interaction", "impression"] = "interaction"
    personalize_event_type: str = Field(min_length=1, max_length=256)


class RuleSet(BaseModel):
    """The whole table, with the lookup the stream stage uses per event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    metadata_columns: list[str] = Field(default_factory=list)
    rule: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "RuleSet":
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
        return self

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
