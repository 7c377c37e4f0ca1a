"""`pipeline personalize apply` against the emulator's control plane, over HTTP with boto3."""

from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from provision import PersonalizeSetupSettings
from provision.actions import run_personalize
from provision.apply import apply_plan
from schemas import load_rules
from schemas.rules import DEFAULT_RULES_PATH
from tests.fixtures.personalize_fixture import RunningEmulator


def control(emulator: RunningEmulator) -> Any:
    return boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def settings(emulator: RunningEmulator, rules: Path | None = None) -> PersonalizeSetupSettings:
    return PersonalizeSetupSettings(
        personalize_api_endpoint_url=emulator.url,
        personalize_dataset_group_name="test-group",
        streams_rules_path=rules,
    )


def changed_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(
        DEFAULT_RULES_PATH.read_text()
        + '[personalize]\nweights = { click = 0.5 }\nnegative_filter_event_types = ["flag"]\n'
    )
    return path


def test_apply_twice_creates_once_and_finds_no_difference(
    personalize_emulator: RunningEmulator,
) -> None:
    client, rules = control(personalize_emulator), load_rules()
    first = apply_plan(client, rules, settings(personalize_emulator))
    assert first.created == [
        "dataset_group:test-group",
        "schema:test-group-interactions",
        "dataset:test-group-interactions",
        "users_schema:test-group-users",
        "users_dataset:test-group-users",
        "items_schema:test-group-items",
        "items_dataset:test-group-items",
        "event_tracker:test-group-tracker",
        "solution:test-group-user-personalization-v2",
        "filter:test-group-exclude-negative",
    ]
    assert first.differences == []
    datasets = client.list_datasets(datasetGroupArn=first.arns["dataset_group"])["datasets"]
    assert sorted(d["datasetType"] for d in datasets) == ["INTERACTIONS", "ITEMS", "USERS"]
    assert first.configure()["USERS_DATASET_ARN"] == first.arns["users_dataset"]
    assert first.configure()["ITEMS_DATASET_ARN"] == first.arns["items_dataset"]
    assert first.tracking_id and first.negative_filter_arn
    assert first.negative_filter_arn.endswith(":filter/test-group-exclude-negative")

    second = apply_plan(client, rules, settings(personalize_emulator))
    assert (second.created, second.differences) == ([], [])
    assert len(second.unchanged) == 10
    assert second.tracking_id == first.tracking_id
    assert second.negative_filter_arn == first.negative_filter_arn
    assert second.configure()["AWS_PERSONALIZE_FILTER_ARN"] == first.negative_filter_arn
    solution = client.describe_solution(solutionArn=second.arns["solution"])["solution"]
    weights = solution["solutionConfig"]["eventsConfig"]["eventParametersList"]
    assert [p["eventType"] for p in weights] == ["donate", "endorse", "engage", "click", "view"]


def test_a_rules_change_is_reported_never_replaced(
    personalize_emulator: RunningEmulator, tmp_path: Path
) -> None:
    client = control(personalize_emulator)
    apply_plan(client, load_rules(), settings(personalize_emulator))
    report = apply_plan(client, load_rules(changed_rules(tmp_path)), settings(personalize_emulator))
    assert report.created == []
    assert [(d.resource, d.field) for d in report.differences] == [
        ("solution", "solutionConfig.eventsConfig.eventParametersList"),
        ("filter", "filterExpression"),
    ]
    assert "update-solution" in report.differences[0].remedy
    assert "delete-filter" in report.differences[1].remedy
    # Nothing was replaced: the filter still excludes both negative types.
    (existing,) = client.list_filters(datasetGroupArn=report.arns["dataset_group"])["Filters"]
    expression = client.describe_filter(filterArn=existing["filterArn"])["filter"]
    assert expression["filterExpression"].endswith('IN ("flag", "negative")')


def test_the_command_prints_the_report_and_fails_on_differences(
    personalize_emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "PERSONALIZE_API_ENDPOINT_URL": personalize_emulator.url,
        "PERSONALIZE_DATASET_GROUP_NAME": "cli-group",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STREAMS_RULES_PATH", raising=False)
    run_personalize("apply")
    report = orjson.loads(capsys.readouterr().out)
    assert report["configure"]["AWS_PERSONALIZE_TRACKING_ID"] == report["tracking_id"]
    assert report["configure"]["AWS_PERSONALIZE_FILTER_ARN"].endswith("cli-group-exclude-negative")

    monkeypatch.setenv("STREAMS_RULES_PATH", str(changed_rules(tmp_path)))
    with pytest.raises(SystemExit, match="2 difference"):
        run_personalize("apply")

    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_RULES_PATH.read_text() + "[personalize]\nweights = { flag = 0.5 }\n")
    monkeypatch.setenv("STREAMS_RULES_PATH", str(bad))
    with pytest.raises(SystemExit, match="'flag' is not a training event type"):
        run_personalize("plan")
