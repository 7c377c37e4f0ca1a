"""The rules' [users] and [items] tables: Personalize's dataset limits refused at start-up."""

from pathlib import Path

import pytest

from schemas import load_rules
from schemas.rules import DEFAULT_RULES_PATH, ITEMS_FIELD_LIMIT, USERS_FIELD_LIMIT, RulesError

SEED = DEFAULT_RULES_PATH.read_text().split("\n[[users.field]]", 1)[0]


def rules_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(SEED + extra)
    return path


def field(dataset: str, name: str, source: str, **extra: object) -> str:
    lines = "".join(
        f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}\n" for k, v in extra.items()
    )
    return f'\n[[{dataset}.field]]\nname = "{name}"\nsource = "{source}"\n{lines}'


def fields(dataset: str, count: int) -> str:
    nested = "user_properties" if dataset == "users" else "event_properties"
    return "".join(field(dataset, f"F{n}", f"{nested}.p{n}") for n in range(count))


CREATION = field("items", "CREATION_TIMESTAMP", "event_properties.t", type="timestamp")


def test_the_default_rules_map_country_language_platform_and_an_item_category() -> None:
    rules = load_rules()
    assert [(f.name, f.source) for f in rules.users.field] == [
        ("COUNTRY", "country"),
        ("LANGUAGE", "language"),
        ("PLATFORM", "platform"),
    ]
    assert {f.name: f.type for f in rules.items.field} == {
        "CATEGORY": "categorical",
        "CREATION_TIMESTAMP": "timestamp",
    }


def test_25_user_fields_load_and_26_are_refused_naming_the_limit(tmp_path: Path) -> None:
    assert (
        len(load_rules(rules_file(tmp_path, fields("users", USERS_FIELD_LIMIT))).users.field) == 25
    )
    with pytest.raises(RulesError, match="26 metadata fields > Personalize's limit of 25"):
        load_rules(rules_file(tmp_path, fields("users", USERS_FIELD_LIMIT + 1)))


def test_101_item_fields_are_refused_and_the_creation_time_does_not_count(tmp_path: Path) -> None:
    ok = load_rules(rules_file(tmp_path, fields("items", ITEMS_FIELD_LIMIT) + CREATION))
    assert len(ok.items.field) == 101
    with pytest.raises(RulesError, match="101 metadata fields > Personalize's limit of 100"):
        load_rules(rules_file(tmp_path, fields("items", ITEMS_FIELD_LIMIT + 1)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (field("users", "USER_ID", "user_id"), "reserves"),
        (field("users", "EVENT_TYPE", "x"), "reserves"),
        (field("items", "ITEM_ID", "event_properties.x"), "reserves"),
        (field("users", "A", "a") + field("users", "A", "b"), "twice"),
        (field("users", "A", "event_properties.a"), "not from an event"),
        (field("items", "A", "country"), "comes from event_properties"),
        (field("users", "A", "a", max_length=1001), "less than or equal to 1000"),
        (field("users", "A", "a", type="int", multi_value=True), "multi_value"),
        (field("items", "CREATION_TIMESTAMP", "event_properties.t"), "timestamp"),
        (CREATION, "at least one metadata field"),
        (field("users", "A", "user_properties"), "names no property"),
        (field("users", "A", "groups.x"), "must be a top-level field"),
        (field("users", "A-B", "a"), "pattern"),
        (field("users", "A", "a", type="string"), "categorical"),
    ],
)
def test_what_personalize_would_refuse_is_refused(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        load_rules(rules_file(tmp_path, extra))
