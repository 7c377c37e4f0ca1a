"""The weight table: the seed's numbers, aliases, the Personalize budget, refusal of bad files."""

from pathlib import Path

import pytest

from schemas import PERSONALIZE_EVENT_TYPE_BUDGET, load_rules
from schemas.rules import RulesError

SEED_WEIGHTS = {
    "donate": 3.0,
    "fundraise": 3.0,
    "upvote": 2.0,
    "share": 2.0,
    "bookmark": 1.8,
    "download": 1.5,
    "comment": 1.5,
    "click": 1.0,
    "scroll_impression": 0.7,
    "view": 0.5,
    "initial_impression": 0.3,
    "hide": -0.5,
    "not_interested": -0.8,
    "downvote": -1.0,
    "flag_content": -2.5,
}


def test_default_table_has_the_seed_weights() -> None:
    table = load_rules().by_name()
    assert {name: table[name].weight for name in SEED_WEIGHTS} == SEED_WEIGHTS


def test_aliases_map_to_canonical_types() -> None:
    table = load_rules().by_name()
    assert table["Donate"].event_type == "donate"
    assert table["fundraise"].event_type == "donate"
    assert "DONATE" not in table  # exact matching after the alias map, no guessing


def test_impressions_are_marked() -> None:
    table = load_rules().by_name()
    assert table["initial_impression"].kind == "impression"
    assert table["scroll_impression"].kind == "impression"
    assert table["click"].kind == "interaction"


def test_default_table_fits_personalize_budget() -> None:
    rules = load_rules()
    assert len(rules.personalize_event_types) + len(rules.metadata_columns) <= (
        PERSONALIZE_EVENT_TYPE_BUDGET
    )


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text("version = 1\n" + body)
    return path


def _rule(name: str, ptype: str, weight: str = "1.0", extra: str = "") -> str:
    return (
        f'[[rule]]\nevent_type = "{name}"\nweight = {weight}\n'
        f'personalize_event_type = "{ptype}"\n{extra}\n'
    )


def test_over_budget_rules_are_refused(tmp_path: Path) -> None:
    body = "".join(_rule(f"e{i}", f"type{i}") for i in range(11))
    with pytest.raises(RulesError, match="11 Personalize event types"):
        load_rules(_write(tmp_path, body))


def test_metadata_columns_count_against_the_budget(tmp_path: Path) -> None:
    body = 'metadata_columns = ["A", "B"]\n' + "".join(_rule(f"e{i}", f"type{i}") for i in range(9))
    with pytest.raises(RulesError, match="2 metadata columns: 11 > the dataset limit of 10"):
        load_rules(_write(tmp_path, body))


def test_duplicate_event_types_are_refused(tmp_path: Path) -> None:
    body = _rule("click", "click") + _rule("tap", "click", extra='aliases = ["click"]')
    with pytest.raises(RulesError, match="'click' appears twice"):
        load_rules(_write(tmp_path, body))


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="colour"):
        load_rules(_write(tmp_path, _rule("click", "click", extra='colour = "red"')))


def test_non_numeric_weights_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="weight"):
        load_rules(_write(tmp_path, _rule("click", "click", weight='"heavy"')))


def test_unreadable_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.toml")
