"""The Personalize plan: the rules file turned into the requests that set Personalize up.

Pure: no AWS call. Every request is checked against botocore's `personalize` service model,
so `plan` fails here rather than in `apply` half-way. How each number is derived is in
docs/personalize.md ("What each weight does"); in short:
- the interactions schema has the columns the sink sends and the history CSV writes;
- the solution (User-Personalization-v2) lists the training event types, each weighted by its
  strongest Amplitude weight over the strongest of all (rounded to 4 places), with
  eventValueThreshold 0 (events below it, i.e. any negative eventValue, never train); negative
  and impression types are left out, and Personalize considers only the event types it names;
- the negative-feedback filter excludes the items a user acted on negatively;
- with `[users]` / `[items]` fields in the rules, a Users / Items dataset (and its schema)
  whose columns are those fields: nullable (a user or item may lack any of them), categorical
  strings marked `categorical`, CREATION_TIMESTAMP a long (epoch seconds).
"""

from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import botocore.session
import orjson

from core.service_model import validate
from schemas import RuleSet
from schemas.rules import DatasetRules

RECIPE_ARN = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
# eventValue >= 0 trains: every positive rule's events, never a negative eventValue.
DEFAULT_THRESHOLD = 0.0
# Placeholders for the plan printed before anything exists; apply uses the real ARN.
PLACEHOLDER_ACCOUNT = "<account-id>"
# One column per PutEvents field the sink sends, in the history CSV's order
# (sinks/history/csv_rows.py).
INTERACTION_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("USER_ID", "string"),
    ("ITEM_ID", "string"),
    ("TIMESTAMP", "long"),  # seconds
    ("EVENT_TYPE", "string"),
    ("EVENT_VALUE", "float"),
    ("IMPRESSION", ["null", "string"]),  # item ids joined by "|"
    ("RECOMMENDATION_ID", ["null", "string"]),
)


class PlanError(ValueError):
    """The plan would be refused by Personalize; the message names every problem."""


@dataclass(frozen=True)
class EventTypePlan:
    """What one Personalize event type becomes: trained with a weight, a filter, or exposure."""

    event_type: str
    role: str  # training | negative | impression | unused
    amplitude_events: list[str]
    strongest_weight: float
    weight: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class PlannedRequest:
    """One control-plane call, as boto3 takes it: `client.<snake operation>(**input)`."""

    resource: str  # dataset_group | schema | dataset | event_tracker | solution | filter
    operation: str
    input: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.input["name"])


@dataclass(frozen=True)
class Plan:
    dataset_group_name: str
    event_types: list[EventTypePlan]
    requests: list[PlannedRequest] = field(default_factory=list)
    negative_filter_name: str | None = None

    def request(self, resource: str) -> PlannedRequest:
        return next(r for r in self.requests if r.resource == resource)

    def optional(self, resource: str) -> PlannedRequest | None:
        """The request for `resource`, or None when the plan has none (no such dataset)."""
        return next((r for r in self.requests if r.resource == resource), None)

    def filters(self) -> list[PlannedRequest]:
        return [r for r in self.requests if r.resource == "filter"]

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


def interactions_schema(rules: RuleSet) -> dict[str, Any]:
    """The Avro schema of the interactions dataset (metadata columns: nullable strings)."""
    fields: list[dict[str, Any]] = [{"name": n, "type": t} for n, t in INTERACTION_COLUMNS]
    for column in rules.metadata_columns:
        fields.append({"name": column, "type": ["null", "string"], "default": None})
    for f in fields:
        if isinstance(f["type"], list):
            f.setdefault("default", None)
    return {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }


_AVRO_TYPES = {"categorical": "string", "int": "int", "long": "long", "float": "float"}
_AVRO_TYPES["timestamp"] = "long"
# (rules table, Avro record name, id column, CreateDataset's datasetType)
CATALOG_DATASETS = (("users", "Users", "USER_ID"), ("items", "Items", "ITEM_ID"))


def catalog_schema(dataset: DatasetRules, record: str, id_column: str) -> dict[str, Any]:
    """The Avro schema of a Users or Items dataset: the id, then the rules' fields in order."""
    fields: list[dict[str, Any]] = [{"name": id_column, "type": "string"}]
    for rule in dataset.field:
        column: dict[str, Any] = {
            "name": rule.name,
            "type": ["null", _AVRO_TYPES[rule.type]],
            "default": None,
        }
        if rule.type == "categorical":
            column["categorical"] = True
        fields.append(column)
    return {
        "type": "record",
        "name": record,
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }


def event_type_plans(rules: RuleSet) -> list[EventTypePlan]:
    """Every Personalize type the rules produce, strongest first, with its role and numbers."""
    training = rules.training_event_types
    top = max((rules.strongest_weight(t) for t in training), default=1.0)
    options = rules.personalize
    plans = []
    for ptype in sorted(
        rules.personalize_event_types, key=lambda t: (-rules.strongest_weight(t), t)
    ):
        members = [r for r in rules.rule if r.personalize_event_type == ptype]
        strongest = rules.strongest_weight(ptype)
        if ptype in training:
            weight = options.weights.get(ptype, round(strongest / top, 4))
            threshold = options.thresholds.get(ptype, DEFAULT_THRESHOLD)
            role = "training"
        else:
            weight = threshold = None
            if ptype in rules.negative_event_types:
                role = "negative"
            elif ptype in rules.impression_event_types:
                role = "impression"
            else:
                role = "unused"  # positive, but left out by training_event_types
        plans.append(
            EventTypePlan(
                ptype, role, [r.event_type for r in members], strongest, weight, threshold
            )
        )
    return plans


def negative_filter_types(rules: RuleSet) -> list[str]:
    chosen = rules.personalize.negative_filter_event_types
    return sorted(chosen if chosen is not None else rules.negative_event_types)


def exclude_expression(event_types: list[str]) -> str:
    quoted = ", ".join(f'"{t}"' for t in event_types)
    return f"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ({quoted})"


def build_plan(
    rules: RuleSet, dataset_group_name: str, dataset_group_arn: str | None = None
) -> Plan:
    """The requests in the order apply makes them; raises PlanError if the model refuses one."""
    group = dataset_group_name
    group_arn = dataset_group_arn or (
        f"arn:aws:personalize:<region>:{PLACEHOLDER_ACCOUNT}:dataset-group/{group}"
    )
    schema_arn = f"arn:aws:personalize:<region>:{PLACEHOLDER_ACCOUNT}:schema/{group}-interactions"
    types = event_type_plans(rules)
    parameters = [
        {"eventType": t.event_type, "eventValueThreshold": t.threshold, "weight": t.weight}
        for t in types
        if t.role == "training"
    ]
    solution_config: dict[str, Any] = {"eventsConfig": {"eventParametersList": parameters}}
    auto_days = rules.personalize.auto_training_days
    if auto_days is not None:
        solution_config["autoTrainingConfig"] = {"schedulingExpression": f"rate({auto_days} days)"}
    requests = [
        PlannedRequest("dataset_group", "CreateDatasetGroup", {"name": group}),
        PlannedRequest(
            "schema",
            "CreateSchema",
            {
                "name": f"{group}-interactions",
                "schema": orjson.dumps(interactions_schema(rules)).decode(),
            },
        ),
        PlannedRequest(
            "dataset",
            "CreateDataset",
            {
                "name": f"{group}-interactions",
                "schemaArn": schema_arn,  # apply puts the real one
                "datasetGroupArn": group_arn,
                "datasetType": "Interactions",
            },
        ),
        *_catalog_requests(rules, group, group_arn),
        PlannedRequest(
            "event_tracker",
            "CreateEventTracker",
            {"name": f"{group}-tracker", "datasetGroupArn": group_arn},
        ),
        PlannedRequest(
            "solution",
            "CreateSolution",
            {
                "name": f"{group}-user-personalization-v2",
                "recipeArn": RECIPE_ARN,
                "datasetGroupArn": group_arn,
                # Explicit: AWS's default (true, every 7 days) trains, and bills, unasked.
                "performAutoTraining": auto_days is not None,
                "solutionConfig": solution_config,
            },
        ),
    ]
    negative = negative_filter_types(rules)
    negative_name = None
    if negative:
        negative_name = f"{group}-exclude-negative"
        requests.append(
            PlannedRequest(
                "filter",
                "CreateFilter",
                {
                    "name": negative_name,
                    "datasetGroupArn": group_arn,
                    "filterExpression": exclude_expression(negative),
                },
            )
        )
    engaged = rules.personalize.exclude_engaged_event_types
    if engaged:
        requests.append(
            PlannedRequest(
                "filter",
                "CreateFilter",
                {
                    "name": f"{group}-exclude-negative-and-engaged",
                    "datasetGroupArn": group_arn,
                    "filterExpression": exclude_expression(sorted({*negative, *engaged})),
                },
            )
        )
    plan = Plan(group, types, requests, negative_name)
    problems = [p for r in plan.requests for p in check_request(r.operation, r.input)]
    if problems:
        raise PlanError("Personalize would refuse the plan: " + "; ".join(problems))
    return plan


def _catalog_requests(rules: RuleSet, group: str, group_arn: str) -> list[PlannedRequest]:
    """CreateSchema and CreateDataset for each of Users and Items the rules give fields to."""
    requests = []
    for table, record, id_column in CATALOG_DATASETS:
        dataset = getattr(rules, table)
        if not dataset.field:
            continue
        name = f"{group}-{table}"
        schema = catalog_schema(dataset, record, id_column)
        schema_arn = f"arn:aws:personalize:<region>:{PLACEHOLDER_ACCOUNT}:schema/{name}"
        requests += [
            PlannedRequest(
                f"{table}_schema",
                "CreateSchema",
                {"name": name, "schema": orjson.dumps(schema).decode()},
            ),
            PlannedRequest(
                f"{table}_dataset",
                "CreateDataset",
                {
                    "name": name,
                    "schemaArn": schema_arn,  # apply puts the real one
                    "datasetGroupArn": group_arn,
                    "datasetType": record,
                },
            ),
        ]
    return requests


@cache
def _control_plane() -> Any:
    return botocore.session.get_session().get_service_model("personalize")


def check_request(operation: str, request: dict[str, Any]) -> list[str]:
    """Every way `request` breaks botocore's model of `operation` (empty when valid)."""
    shape = _control_plane().operation_model(operation).input_shape
    return validate(shape, request, operation)
