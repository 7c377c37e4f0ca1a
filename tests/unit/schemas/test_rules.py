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
    """A possible view is exposure; a confirmed view (scrolled to) trains as a view."""
    table = load_rules().by_name()
    assert table["initial_impression"].kind == "impression"
    assert table["scroll_impression"].kind == "interaction"
    assert table["scroll_impression"].personalize_event_type == "view"
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


def test_eleventh_type_is_named_in_the_refusal(tmp_path: Path) -> None:
    body = "".join(_rule(f"e{i}", f"type{i}") for i in range(10)) + _rule("extra", "eleventh")
    with pytest.raises(RulesError, match="eleventh"):
        load_rules(_write(tmp_path, body))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('training_event_types = ["good", "bad"]', "'bad' is a negative event type"),
        ('training_event_types = ["good", "seen"]', "'seen' is an impression event type"),
        ("weights = { good = 1.5 }", "'good' = 1.5 is outside \\[0, 1\\]"),
        ("weights = { good = -0.1 }", "outside \\[0, 1\\]"),
        ("weights = { bad = 0.5 }", "'bad' is not a training event type"),
        ('negative_filter_event_types = ["nope"]', "'nope' is produced by no rule"),
        ('negative_filter_event_types = ["good"]', "'good' is not a negative event type"),
        ('exclude_engaged_event_types = ["nope"]', "'nope' is produced by no rule"),
    ],
)
def test_plans_personalize_would_refuse_are_refused(
    tmp_path: Path, options: str, message: str
) -> None:
    body = (
        _rule("upvote", "good", "2.0")
        + _rule("flag", "bad", "-1.0")
        + _rule("shown", "seen", "0.3", extra='kind = "impression"')
        + f"[personalize]\n{options}\n"
    )
    with pytest.raises(RulesError, match=message):
        load_rules(_write(tmp_path, body))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (_rule("up", "vote", "1.0") + _rule("down", "vote", "-1.0"), "'vote' mixes up"),
        (
            _rule("view", "view", "0.5")
            + _rule("shown", "view", "0.3", extra='kind = "impression"'),
            "'view' mixes view \\(interaction\\), shown \\(impression\\)",
        ),
        (_rule("meh", "meh", "0.0"), "weight 0 carries no signal"),
    ],
)
def test_a_type_holds_one_sort_of_rule(tmp_path: Path, rules: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        load_rules(_write(tmp_path, rules))


def test_default_roles() -> None:
    rules = load_rules()
    assert rules.training_event_types == ["donate", "endorse", "engage", "click", "view"]
    assert rules.negative_event_types == {"negative", "flag"}
    assert rules.impression_event_types == {"impression"}
