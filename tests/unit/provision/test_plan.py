"""The Personalize plan from the rules: what botocore's model accepts, and what it means."""

from pathlib import Path

import orjson
import pytest

from provision.plan import RECIPE_ARN, build_plan, check_request
from schemas import Interaction, load_rules
from sinks.history.csv_rows import HEADER
from sinks.personalize.events import to_event

# PutEvents event member -> interactions dataset column (USER_ID is the call's userId).
EVENT_COLUMNS = {
    "itemId": "ITEM_ID",
    "sentAt": "TIMESTAMP",
    "eventType": "EVENT_TYPE",
    "eventValue": "EVENT_VALUE",
    "impression": "IMPRESSION",
    "recommendationId": "RECOMMENDATION_ID",
}


def test_default_plan_requests_are_valid_and_in_apply_order() -> None:
    plan = build_plan(load_rules(), "amplitude-pipeline")
    assert [r.operation for r in plan.requests] == [
        "CreateDatasetGroup",
        "CreateSchema",
        "CreateDataset",
        "CreateSchema",  # users (tests/unit/provision/test_catalog_plan.py)
        "CreateDataset",
        "CreateSchema",  # items
        "CreateDataset",
        "CreateEventTracker",
        "CreateSolution",
        "CreateFilter",
    ]
    for request in plan.requests:
        assert check_request(request.operation, request.input) == []


def test_weights_follow_the_rules_and_leave_negatives_out() -> None:
    rules = load_rules()
    solution = build_plan(rules, "g").request("solution").input
    assert solution["recipeArn"] == RECIPE_ARN
    assert solution["performAutoTraining"] is False  # not AWS's default: training is asked for
    parameters = solution["solutionConfig"]["eventsConfig"]["eventParametersList"]
    assert [(p["eventType"], p["weight"]) for p in parameters] == [
        ("donate", 1.0),  # 3.0 / 3.0
        ("endorse", 0.6667),  # 2.0 / 3.0
        ("engage", 0.6),  # 1.8 / 3.0
        ("click", 0.3333),
        ("view", 0.2333),  # scroll_impression's 0.7 / 3.0
    ]
    assert all(0 <= p["weight"] <= 1 and p["eventValueThreshold"] == 0.0 for p in parameters)
    trained = {p["eventType"] for p in parameters}
    assert not trained & (rules.negative_event_types | rules.impression_event_types)


def test_negative_filter_excludes_the_negative_types() -> None:
    plan = build_plan(load_rules(), "g")
    (negative,) = plan.filters()
    assert negative.name == plan.negative_filter_name == "g-exclude-negative"
    assert negative.input["filterExpression"] == (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("flag", "negative")'
    )


def test_schema_matches_the_history_csv_and_what_the_sink_sends() -> None:
    plan = build_plan(load_rules(), "g")
    schema = orjson.loads(plan.request("schema").input["schema"])
    columns = [f["name"] for f in schema["fields"]]
    assert tuple(columns) == HEADER
    sent = to_event(
        Interaction(
            event_id="e",
            user_id="u",
            device_id=None,
            session_id="s",
            item_id="i",
            event_type="upvote",
            personalize_event_type="endorse",
            weight=2.0,
            timestamp_ms=1,
            impression=["a"],
            recommendation_id="r",
        )
    )
    assert {EVENT_COLUMNS[k] for k in sent if k != "eventId"} | {"USER_ID"} == set(columns)


def test_explicit_choices_and_the_engaged_filter(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        (Path(__file__).parents[3] / "schemas" / "default_rules.toml").read_text()
        + "[personalize]\nweights = { click = 0.5 }\nthresholds = { view = 0.6 }\n"
        + 'exclude_engaged_event_types = ["donate"]\nauto_training_days = 3\n'
    )
    plan = build_plan(load_rules(path), "g")
    parameters = plan.request("solution").input["solutionConfig"]["eventsConfig"][
        "eventParametersList"
    ]
    by_type = {p["eventType"]: p for p in parameters}
    solution = plan.request("solution").input
    assert solution["performAutoTraining"] is True
    assert solution["solutionConfig"]["autoTrainingConfig"] == {
        "schedulingExpression": "rate(3 days)"
    }
    assert by_type["click"]["weight"] == 0.5
    assert by_type["view"]["eventValueThreshold"] == 0.6  # only scroll_impression (0.7) trains
    assert [f.input["filterExpression"] for f in plan.filters()][1] == (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("donate", "flag", "negative")'
    )


@pytest.mark.parametrize(
    ("operation", "request_", "problem"),
    [
        (
            "CreateSolution",
            {
                "name": "s",
                "datasetGroupArn": "arn:aws:personalize:r:1:dataset-group/g",
                "solutionConfig": {
                    "eventsConfig": {"eventParametersList": [{"eventType": "x", "weight": 1.5}]}
                },
            },
            "above the maximum",
        ),
        ("CreateFilter", {"name": "bad name!", "datasetGroupArn": "nope"}, "filterExpression"),
    ],
)
def test_the_model_check_catches_what_aws_refuses(
    operation: str, request_: dict, problem: str
) -> None:
    assert any(problem in p for p in check_request(operation, request_))
