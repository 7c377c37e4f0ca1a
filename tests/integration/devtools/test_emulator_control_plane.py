"""The emulator as Personalize: control-plane errors, filters and weights in GetRecommendations."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devtools.stack import DEV_CAMPAIGN_ARN
from tests.fixtures.personalize_fixture import RunningEmulator

START = datetime(2024, 1, 1, tzinfo=UTC)
V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"


def client(emulator: RunningEmulator, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def group(emulator: RunningEmulator, name: str = "g") -> str:
    arn: str = client(emulator, "personalize").create_dataset_group(name=name)["datasetGroupArn"]
    return arn


def send(
    emulator: RunningEmulator, user: str, *events: tuple[str, str, float], at: int = 0
) -> None:
    client(emulator, "personalize-events").put_events(
        trackingId="t",
        userId=user,
        sessionId="s",
        eventList=[
            {
                "eventType": kind,
                "itemId": item,
                "eventValue": value,
                "sentAt": START + timedelta(seconds=at + n),
            }
            for n, (kind, item, value) in enumerate(events)
        ],
    )


def recommended(emulator: RunningEmulator, user: str, **extra: Any) -> list[str]:
    answer = client(emulator, "personalize-runtime").get_recommendations(
        campaignArn=DEV_CAMPAIGN_ARN, userId=user, numResults=50, **extra
    )
    return [item["itemId"] for item in answer["itemList"]]


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_duplicates_bad_input_and_unknown_arns_get_aws_errors(
    personalize_emulator: RunningEmulator,
) -> None:
    personalize = client(personalize_emulator, "personalize")
    arn = group(personalize_emulator)
    with pytest.raises(ClientError) as caught:
        personalize.create_dataset_group(name="g")
    assert code(caught) == "ResourceAlreadyExistsException"
    personalize.create_filter(
        name="f",
        datasetGroupArn=arn,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
    )
    with pytest.raises(ClientError) as caught:
        personalize.create_filter(
            name="f",
            datasetGroupArn=arn,
            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("y")',
        )
    assert code(caught) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as caught:
        personalize.create_filter(
            name="g2", datasetGroupArn=arn, filterExpression="EXCLUDE nonsense"
        )
    assert code(caught) == "InvalidInputException"
    # Past botocore's own client-side checks, the emulator enforces the model (weight <= 1).
    raw = boto3.client(
        "personalize",
        endpoint_url=personalize_emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False),
    )
    heavy = {"eventParametersList": [{"eventType": "click", "weight": 2.0}]}
    with pytest.raises(ClientError, match="above the maximum 1") as caught:
        raw.create_solution(
            name="s", recipeArn=V2, datasetGroupArn=arn, solutionConfig={"eventsConfig": heavy}
        )
    assert code(caught) == "InvalidInputException"
    light = {"eventParametersList": [{"eventType": "click", "weight": 0.5}]}
    with pytest.raises(ClientError, match="eventsConfig needs") as caught:
        personalize.create_solution(
            name="s",
            recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
            datasetGroupArn=arn,
            solutionConfig={"eventsConfig": light},
        )
    with pytest.raises(ClientError) as caught:
        personalize.describe_filter(filterArn=arn.replace("dataset-group/g", "filter/none"))
    assert code(caught) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        personalize.create_event_tracker(name="t", datasetGroupArn=arn)
    assert "no interactions dataset" in str(caught.value)


def test_the_filter_hides_what_a_user_flagged_not_what_others_liked(
    personalize_emulator: RunningEmulator,
) -> None:
    personalize = client(personalize_emulator, "personalize")
    filter_arn = personalize.create_filter(
        name="exclude-negative",
        datasetGroupArn=group(personalize_emulator),
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("flag", "negative")',
    )["filterArn"]
    send(personalize_emulator, "fan", ("endorse", "x", 2.0), ("endorse", "y", 2.0))
    send(personalize_emulator, "critic", ("FLAG", "x", -2.5))  # types match case-insensitively
    assert "x" in recommended(personalize_emulator, "critic")  # unfiltered, as in Personalize
    assert "x" not in recommended(personalize_emulator, "critic", filterArn=filter_arn)
    assert "x" in recommended(personalize_emulator, "fan", filterArn=filter_arn)
    with pytest.raises(ClientError) as caught:
        recommended(personalize_emulator, "critic", filterArn=filter_arn + "-missing")
    assert code(caught) == "ResourceNotFoundException"


def test_the_filter_sees_the_last_100_interactions_per_type(
    personalize_emulator: RunningEmulator,
) -> None:
    filter_arn = client(personalize_emulator, "personalize").create_filter(
        name="f",
        datasetGroupArn=group(personalize_emulator),
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("flag")',
    )["filterArn"]
    send(personalize_emulator, "fan", ("endorse", "old", 2.0))
    send(personalize_emulator, "critic", ("flag", "old", -1.0), ("view", "old", 0.5))
    for batch in range(10):  # 100 later flags on other items push "old" out of the window
        send(
            personalize_emulator,
            "critic",
            *[("flag", f"other-{batch}-{n}", -1.0) for n in range(10)],
            at=1000 + batch * 10,
        )
    assert "old" in recommended(personalize_emulator, "critic", filterArn=filter_arn)


def test_ranking_follows_the_solutions_weights_not_event_value(
    personalize_emulator: RunningEmulator,
) -> None:
    send(personalize_emulator, "u1", ("click", "valued", 100.0))
    send(personalize_emulator, "u2", ("click", "popular", 0.1), ("flag", "flagged", -2.5))
    send(personalize_emulator, "u3", ("click", "popular", 0.1), ("flag", "flagged", -2.5))
    send(personalize_emulator, "u4", ("donate", "donated", 3.0), ("flag", "flagged", -2.5))
    # No solution yet: every event counts the same, whatever its eventValue or type.
    assert recommended(personalize_emulator, "u9")[:2] == ["flagged", "popular"]

    client(personalize_emulator, "personalize").create_solution(
        name="s",
        recipeArn=V2,
        datasetGroupArn=group(personalize_emulator),
        solutionConfig={
            "eventsConfig": {
                "eventParametersList": [
                    {"eventType": "donate", "eventValueThreshold": 0.0, "weight": 1.0},
                    {"eventType": "click", "eventValueThreshold": 0.0, "weight": 0.3},
                ]
            }
        },
    )
    assert recommended(personalize_emulator, "u9") == ["donated", "popular", "valued"]
