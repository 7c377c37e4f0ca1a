"""`pipeline personalize apply`: create in a dataset group what the plan needs and is missing.

Idempotent: every resource is looked up by name (the interactions dataset and the event
tracker by their dataset group, which holds one of each) and compared with the plan. What is
missing is created and waited for until ACTIVE; what exists and differs is reported with the
way to change it, never replaced (a schema or a filter cannot change in Personalize; a new
event tracker means a new tracking id; a solution's eventsConfig changes with UpdateSolution).
"""

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import orjson
from botocore.exceptions import ClientError

from provision.plan import Plan, PlannedRequest, build_plan
from provision.settings import PersonalizeSetupSettings
from schemas import RuleSet

ACTIVE = "ACTIVE"


class ApplyError(RuntimeError):
    """Personalize refused or failed a step; the message says which and why."""


@dataclass(frozen=True)
class Difference:
    resource: str
    name: str
    field: str
    planned: Any
    found: Any
    remedy: str


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    arns: dict[str, str] = field(default_factory=dict)
    tracking_id: str | None = None
    negative_filter_arn: str | None = None

    def configure(self) -> dict[str, str]:
        """The settings the pipeline's services need from what apply found or made."""
        values = {
            "AWS_PERSONALIZE_TRACKING_ID": self.tracking_id or "",
            "AWS_PERSONALIZE_DATASET_ARN": self.arns.get("dataset", ""),
            "AWS_PERSONALIZE_FILTER_ARN": self.negative_filter_arn or "",
            # the users and items sinks' datasets (PutUsers / PutItems), when planned
            **{
                f"{table.upper()}_DATASET_ARN": self.arns[f"{table}_dataset"]
                for table in ("users", "items")
                if f"{table}_dataset" in self.arns
            },
            "AWS_PERSONALIZE_CAMPAIGN_ARN": (
                "<after training: create-solution-version, then create-campaign "
                "(docs/personalize.md)>"
            ),
        }
        return values

    def to_json(self) -> bytes:
        body = {**asdict(self), "configure": self.configure()}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def build_client(settings: PersonalizeSetupSettings) -> Any:
    return boto3.client(
        "personalize",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_api_endpoint_url or None,
    )


def apply_plan(
    client: Any,
    rules: RuleSet,
    settings: PersonalizeSetupSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyReport:
    """Find or create each resource of the plan, in order; report what differs."""
    return _Applier(client, settings, sleep).run(rules)


class _Applier:
    def __init__(
        self, client: Any, settings: PersonalizeSetupSettings, sleep: Callable[[float], None]
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep
        self.report = ApplyReport()

    def run(self, rules: RuleSet) -> ApplyReport:
        name = self._settings.personalize_dataset_group_name
        group_arn = self._dataset_group(build_plan(rules, name).request("dataset_group"))
        plan = build_plan(rules, name, group_arn)  # the same plan, with the real ARN
        schema_arn = self._schema(plan.request("schema"))
        self._dataset(plan.request("dataset"), group_arn, schema_arn)
        for table in ("users", "items"):
            dataset = plan.optional(f"{table}_dataset")
            if dataset is not None:
                catalog_schema = self._schema(plan.request(f"{table}_schema"))
                self._dataset(dataset, group_arn, catalog_schema)
        self._event_tracker(plan.request("event_tracker"), group_arn)
        self._solution(plan.request("solution"), group_arn)
        self._filters(plan, group_arn)
        return self.report

    # Steps.

    def _dataset_group(self, request: PlannedRequest) -> str:
        found = self._by_name("list_dataset_groups", "datasetGroups", request.name)
        if found:
            arn = str(found["datasetGroupArn"])
            self._wait("describe_dataset_group", {"datasetGroupArn": arn}, "datasetGroup")
            self._unchanged("dataset_group", request.name, arn)
            return arn
        arn = self._create("dataset_group", request)["datasetGroupArn"]
        self._wait("describe_dataset_group", {"datasetGroupArn": arn}, "datasetGroup")
        return str(arn)

    def _schema(self, request: PlannedRequest) -> str:
        found = self._by_name("list_schemas", "schemas", request.name)
        if not found:
            return str(self._create(request.resource, request)["schemaArn"])
        arn = str(found["schemaArn"])
        schema = self._client.describe_schema(schemaArn=arn)["schema"]
        planned, actual = orjson.loads(request.input["schema"]), orjson.loads(schema["schema"])
        if planned != actual:
            self._differs(
                request.resource,
                request.name,
                "schema",
                planned,
                actual,
                "a schema cannot change: create the planned one under a new name "
                "(aws personalize create-schema) and move the dataset to it with "
                "aws personalize update-dataset --schema-arn",
            )
        self._unchanged(request.resource, request.name, arn, record=planned == actual)
        return arn

    def _dataset(self, request: PlannedRequest, group_arn: str, schema_arn: str) -> None:
        """The group's dataset of the planned type (a group holds one of each type)."""
        kind = request.input["datasetType"].upper()
        datasets = self._list("list_datasets", "datasets", datasetGroupArn=group_arn)
        found = next((d for d in datasets if d["datasetType"].upper() == kind), None)
        if not found:
            arn = self._create(request.resource, request, schemaArn=schema_arn)["datasetArn"]
            self._wait("describe_dataset", {"datasetArn": arn}, "dataset")
            return
        arn = found["datasetArn"]
        dataset = self._wait("describe_dataset", {"datasetArn": arn}, "dataset")
        same = True
        for key, planned, remedy in (
            ("name", request.name, "keep it (datasets cannot be renamed) or delete it"),
            ("schemaArn", schema_arn, "aws personalize update-dataset --schema-arn <planned>"),
        ):
            if dataset.get(key) != planned:
                same = False
                self._differs(
                    request.resource, request.name, key, planned, dataset.get(key), remedy
                )
        self._unchanged(request.resource, request.name, arn, record=same)

    def _event_tracker(self, request: PlannedRequest, group_arn: str) -> None:
        trackers = self._list("list_event_trackers", "eventTrackers", datasetGroupArn=group_arn)
        if not trackers:
            answer = self._create("event_tracker", request)
            tracker = self._wait(
                "describe_event_tracker",
                {"eventTrackerArn": answer["eventTrackerArn"]},
                "eventTracker",
            )
            self.report.tracking_id = answer.get("trackingId") or tracker.get("trackingId")
            return
        arn = trackers[0]["eventTrackerArn"]
        tracker = self._client.describe_event_tracker(eventTrackerArn=arn)["eventTracker"]
        self.report.tracking_id = tracker.get("trackingId")
        same = tracker["name"] == request.name
        if not same:
            self._differs(
                "event_tracker",
                request.name,
                "name",
                request.name,
                tracker["name"],
                "a dataset group has one event tracker: keep this one (its tracking id is "
                "reported), or delete it and apply again (the tracking id changes)",
            )
        self._unchanged("event_tracker", request.name, arn, record=same)

    def _solution(self, request: PlannedRequest, group_arn: str) -> None:
        solutions = self._list("list_solutions", "solutions", datasetGroupArn=group_arn)
        found = next((s for s in solutions if s["name"] == request.name), None)
        if not found:
            self._create("solution", request)
            return
        arn = found["solutionArn"]
        solution = self._client.describe_solution(solutionArn=arn)["solution"]
        same = True
        if solution.get("recipeArn") != request.input["recipeArn"]:
            same = False
            self._differs(
                "solution",
                request.name,
                "recipeArn",
                request.input["recipeArn"],
                solution.get("recipeArn"),
                "a solution's recipe cannot change: rename the dataset group's solution "
                "(delete it, or apply with another PERSONALIZE_DATASET_GROUP_NAME)",
            )
        planned_auto = request.input["performAutoTraining"]
        auto_config = orjson.dumps(
            {"autoTrainingConfig": request.input["solutionConfig"].get("autoTrainingConfig")}
        ).decode()
        if solution.get("performAutoTraining", True) != planned_auto:
            same = False
            self._differs(
                "solution",
                request.name,
                "performAutoTraining",
                planned_auto,
                solution.get("performAutoTraining", True),
                f"aws personalize update-solution --solution-arn {arn} "
                f"--{'' if planned_auto else 'no-'}perform-auto-training"
                + (f" --solution-update-config '{auto_config}'" if planned_auto else ""),
            )
        planned = _event_parameters(request.input.get("solutionConfig", {}))
        actual = _event_parameters(solution.get("solutionConfig", {}))
        if not _same_parameters(planned, actual):
            same = False
            config = orjson.dumps({"eventsConfig": {"eventParametersList": planned}}).decode()
            self._differs(
                "solution",
                request.name,
                "solutionConfig.eventsConfig.eventParametersList",
                planned,
                actual,
                f"aws personalize update-solution --solution-arn {arn} "
                f"--solution-update-config '{config}', then train a new solution version",
            )
        self._unchanged("solution", request.name, arn, record=same)

    def _filters(self, plan: Plan, group_arn: str) -> None:
        existing = {
            f["name"]: f for f in self._list("list_filters", "Filters", datasetGroupArn=group_arn)
        }
        for request in plan.filters():
            found = existing.get(request.name)
            if found is None:
                arn = self._create("filter", request)["filterArn"]
                self._wait("describe_filter", {"filterArn": arn}, "filter")
            else:
                arn = found["filterArn"]
                expression = self._client.describe_filter(filterArn=arn)["filter"].get(
                    "filterExpression"
                )
                same = expression == request.input["filterExpression"]
                if not same:
                    self._differs(
                        "filter",
                        request.name,
                        "filterExpression",
                        request.input["filterExpression"],
                        expression,
                        f"a filter cannot change: aws personalize delete-filter --filter-arn "
                        f"{arn}, then apply again",
                    )
                self._unchanged("filter", request.name, arn, record=same)
            self.report.arns[f"filter:{request.name}"] = str(arn)
            if request.name == plan.negative_filter_name:
                self.report.negative_filter_arn = str(arn)

    # Plumbing.

    def _list(self, operation: str, key: str, **arguments: Any) -> list[dict[str, Any]]:
        paginator = self._client.get_paginator(operation)
        return [item for page in paginator.paginate(**arguments) for item in page.get(key, [])]

    def _by_name(self, operation: str, key: str, name: str) -> dict[str, Any] | None:
        return next((r for r in self._list(operation, key) if r["name"] == name), None)

    def _create(self, resource: str, request: PlannedRequest, **overrides: Any) -> dict[str, Any]:
        method = getattr(self._client, _snake(request.operation))
        try:
            answer: dict[str, Any] = method(**{**request.input, **overrides})
        except ClientError as exc:
            raise ApplyError(f"{request.operation} {request.name}: {exc}") from exc
        self.report.created.append(f"{resource}:{request.name}")
        arn = next((v for k, v in answer.items() if k.endswith("Arn")), None)
        if arn:
            self.report.arns.setdefault(resource, str(arn))
        return answer

    def _unchanged(self, resource: str, name: str, arn: str, record: bool = True) -> None:
        self.report.arns.setdefault(resource, arn)
        if record:
            self.report.unchanged.append(f"{resource}:{name}")

    def _differs(
        self, resource: str, name: str, key: str, planned: Any, found: Any, remedy: str
    ) -> None:
        self.report.differences.append(Difference(resource, name, key, planned, found, remedy))

    def _wait(self, operation: str, arguments: dict[str, Any], key: str) -> dict[str, Any]:
        """Poll until ACTIVE: Personalize creates resources asynchronously (seconds to
        minutes); a resource used before it is ACTIVE is refused."""
        deadline = time.monotonic() + self._settings.personalize_apply_timeout_seconds
        while True:
            resource: dict[str, Any] = getattr(self._client, operation)(**arguments)[key]
            status = resource.get("status", "")
            if status == ACTIVE:
                return resource
            if "FAILED" in status:
                reason = resource.get("failureReason", "no reason given")
                raise ApplyError(f"{operation} {arguments}: {status}: {reason}")
            if time.monotonic() > deadline:
                raise ApplyError(f"{operation} {arguments}: still {status}; apply again later")
            self._sleep(5.0)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _event_parameters(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config.get("eventsConfig", {}).get("eventParametersList", []))


def _same_parameters(planned: list[dict[str, Any]], actual: list[dict[str, Any]]) -> bool:
    def table(params: list[dict[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
        return {p["eventType"]: (p.get("eventValueThreshold"), p.get("weight")) for p in params}

    want, got = table(planned), table(actual)
    if want.keys() != got.keys():
        return False
    return all(
        (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b))
        for key in want
        for a, b in zip(want[key], got[key], strict=True)
    )
