"""The plan's Users and Items datasets: derived from the rules, accepted by botocore's model."""

from pathlib import Path

import orjson
import pytest

from provision.plan import PlanError, build_plan, check_request
from schemas import load_rules
from schemas.rules import DEFAULT_RULES_PATH
from tests.unit.schemas.test_dataset_rules import CREATION, field, fields

SEED = DEFAULT_RULES_PATH.read_text().split("\n[[users.field]]", 1)[0]


def test_the_default_plan_has_users_and_items_datasets_botocore_accepts() -> None:
    plan = build_plan(load_rules(), "group")
    kinds = [(r.resource, r.operation) for r in plan.requests]
    assert kinds[1:7] == [
        ("schema", "CreateSchema"),
        ("dataset", "CreateDataset"),
        ("users_schema", "CreateSchema"),
        ("users_dataset", "CreateDataset"),
        ("items_schema", "CreateSchema"),
        ("items_dataset", "CreateDataset"),
    ]
    for request in plan.requests:
        assert check_request(request.operation, request.input) == []
    users = orjson.loads(plan.request("users_schema").input["schema"])
    assert users["name"] == "Users"
    assert users["fields"] == [
        {"name": "USER_ID", "type": "string"},
        *(
            {"name": n, "type": ["null", "string"], "default": None, "categorical": True}
            for n in ("COUNTRY", "LANGUAGE", "PLATFORM")
        ),
    ]
    items = orjson.loads(plan.request("items_schema").input["schema"])
    assert items["fields"][0] == {"name": "ITEM_ID", "type": "string"}
    assert items["fields"][2] == {
        "name": "CREATION_TIMESTAMP",
        "type": ["null", "long"],
        "default": None,
    }
    assert plan.request("users_dataset").input["datasetType"] == "Users"
    assert plan.request("items_dataset").input["datasetType"] == "Items"


def test_no_fields_no_dataset(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(SEED + field("users", "AGE", "user_properties.age", type="int"))
    plan = build_plan(load_rules(path), "group")
    assert plan.optional("items_dataset") is None
    column = orjson.loads(plan.request("users_schema").input["schema"])["fields"][1]
    assert column == {"name": "AGE", "type": ["null", "int"], "default": None}


def test_100_item_fields_fit_and_a_schema_botocore_refuses_fails_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(SEED + fields("items", 100) + CREATION)
    build_plan(load_rules(path), "group")
    long_names = "".join(
        field("items", f"F{n:03}" + "X" * 140, f"event_properties.p{n}") for n in range(100)
    )
    path.write_text(SEED + long_names)
    with pytest.raises(PlanError, match=r"schema: length \d+ is above the maximum 20000"):
        build_plan(load_rules(path), "group")
