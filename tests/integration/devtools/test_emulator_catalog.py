"""The emulator's PutUsers and PutItems: botocore's model and the dataset schema enforced,
calls read back with their arrival times, and item metadata used by item filters."""

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.fixtures.catalog_helpers import put_calls
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.integration.devtools.test_emulator_control_plane import (
    client,
    code,
    group,
    recommended,
    send,
)

ARN = "arn:aws:personalize:us-east-1:000000000000:dataset/elsewhere/USERS"


def events(emulator: RunningEmulator) -> Any:
    return client(emulator, "personalize-events")


def schema(emulator: RunningEmulator, name: str, *fields: tuple[str, Any]) -> str:
    avro = {
        "type": "record",
        "name": name,
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [{"name": n, "type": t} for n, t in fields],
        "version": "1.0",
    }
    answer = client(emulator, "personalize").create_schema(name=name, schema=json.dumps(avro))
    return str(answer["schemaArn"])


def dataset(emulator: RunningEmulator, group_arn: str, kind: str, schema_arn: str) -> str:
    answer = client(emulator, "personalize").create_dataset(
        name=f"d-{kind}", datasetGroupArn=group_arn, datasetType=kind, schemaArn=schema_arn
    )
    return str(answer["datasetArn"])


def test_put_users_and_put_items_are_read_back_with_arrival_times(
    personalize_emulator: RunningEmulator,
) -> None:
    before = time.time()
    events(personalize_emulator).put_users(
        datasetArn=ARN, users=[{"userId": "u1", "properties": '{"country": "DE"}'}]
    )
    events(personalize_emulator).put_items(
        datasetArn=ARN.replace("USERS", "ITEMS"), items=[{"itemId": "i1"}]
    )
    (users,) = put_calls(personalize_emulator, "users")
    (items,) = put_calls(personalize_emulator, "items")
    assert users["body"]["users"] == [{"userId": "u1", "properties": '{"country": "DE"}'}]
    assert items["body"]["items"] == [{"itemId": "i1"}]
    assert before <= users["arrivedAt"] <= items["arrivedAt"] <= time.time()


@pytest.mark.parametrize(
    ("users", "why"),
    [
        ([{"userId": f"u{n}"} for n in range(11)], "users"),  # 10 a call at most
        ([{"userId": "u", "properties": "x" * 24_001}], "properties"),  # its maximum length
        ([{"userId": "u", "properties": "[1]"}], "not a JSON object"),
    ],
)
def test_what_aws_refuses_is_invalid_input(
    personalize_emulator: RunningEmulator, users: list[dict[str, str]], why: str
) -> None:
    plain = boto3.client(
        "personalize-events",
        endpoint_url=personalize_emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=boto3.session.Config(parameter_validation=False),
    )
    with pytest.raises(ClientError) as caught:
        plain.put_users(datasetArn=ARN, users=users)
    assert code(caught) == "InvalidInputException"
    assert why in caught.value.response["Error"]["Message"]
    assert put_calls(personalize_emulator, "users") == []


def test_users_and_items_datasets_check_properties_against_their_schema(
    personalize_emulator: RunningEmulator,
) -> None:
    g = group(personalize_emulator)
    users_schema = schema(
        personalize_emulator, "users", ("USER_ID", "string"), ("NUMBER_OF_VISITS", "int")
    )
    users_arn = dataset(personalize_emulator, g, "Users", users_schema)
    assert users_arn.endswith("dataset/g/USERS")
    with pytest.raises(ClientError) as caught:  # an Items dataset needs ITEM_ID
        dataset(personalize_emulator, g, "Items", users_schema)
    assert code(caught) == "InvalidInputException"

    events(personalize_emulator).put_users(
        datasetArn=users_arn, users=[{"userId": "u", "properties": '{"numberOfVisits": 3}'}]
    )
    with pytest.raises(ClientError) as caught:
        events(personalize_emulator).put_users(
            datasetArn=users_arn, users=[{"userId": "u", "properties": '{"country": "DE"}'}]
        )
    assert code(caught) == "InvalidInputException"
    assert "['country']" in caught.value.response["Error"]["Message"]


def test_faults_and_latency_apply_to_put_users_too(personalize_emulator: RunningEmulator) -> None:
    personalize_emulator.set_faults(error_code="InvalidInputException", error_user_id="bad")
    events(personalize_emulator).put_users(datasetArn=ARN, users=[{"userId": "good"}])
    with pytest.raises(ClientError) as caught:
        events(personalize_emulator).put_users(
            datasetArn=ARN, users=[{"userId": "good"}, {"userId": "bad"}]
        )
    assert code(caught) == "InvalidInputException"
    personalize_emulator.set_faults(error_code="", latency_ms=300)
    started = time.monotonic()
    events(personalize_emulator).put_users(datasetArn=ARN, users=[{"userId": "late"}])
    assert time.monotonic() - started >= 0.3


def test_item_filters_use_the_item_metadata_put_items_sent(
    personalize_emulator: RunningEmulator,
) -> None:
    g = group(personalize_emulator)
    personalize = client(personalize_emulator, "personalize")
    exclude = personalize.create_filter(
        name="no-category",
        datasetGroupArn=g,
        filterExpression="EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
    )["filterArn"]
    include = personalize.create_filter(
        name="only-shoes",
        datasetGroupArn=g,
        filterExpression='INCLUDE ItemID WHERE Items.CATEGORY IN ("shoes")',
    )["filterArn"]
    send(personalize_emulator, "u1", ("click", "i1", 1), ("click", "i2", 1), ("click", "i3", 1))
    events(personalize_emulator).put_items(
        datasetArn=ARN.replace("USERS", "ITEMS"),
        items=[
            {"itemId": "i1", "properties": '{"category": "shoes|sale"}'},
            {"itemId": "i2", "properties": '{"category": "hats"}'},
        ],
    )
    assert sorted(recommended(personalize_emulator, "u1")) == ["i1", "i2", "i3"]
    left = recommended(
        personalize_emulator, "u1", filterArn=exclude, filterValues={"CATEGORY": '"sale","x"'}
    )
    assert sorted(left) == ["i2", "i3"]  # i3 has no category: an EXCLUDE keeps it
    assert recommended(personalize_emulator, "u1", filterArn=include) == ["i1"]
    # values match exactly, as in Personalize (only event types ignore case)
    assert recommended(
        personalize_emulator, "u1", filterArn=exclude, filterValues={"CATEGORY": '"HATS"'}
    ) == recommended(personalize_emulator, "u1")
