"""The personalize control plane as the emulator answers it (JSON 1.1, `X-Amz-Target`).

The calls `pipeline personalize apply` makes: Create/Describe/List of dataset groups, schemas,
datasets, event trackers, solutions and filters. Every request is checked against botocore's
model (InvalidInputException); a name already taken is ResourceAlreadyExistsException, an
unknown ARN ResourceNotFoundException, as in AWS. Resources are ACTIVE at once (AWS takes
seconds to minutes). Limits enforced as AWS does: one dataset of each type (Interactions,
Users, Items) and one event tracker per dataset group, at most 10 filters per dataset group,
eventsConfig only with the -v2 recipes. State lives in memory, for the life of the process.
"""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import orjson

from core.service_model import validate
from devtools.emulator.filters import FilterExpressionError, InteractionFilter, ItemFilter, parse

ACCOUNT = "000000000000"
REGION = "us-east-1"
MAX_FILTERS_PER_DATASET_GROUP = 10
EVENTS_CONFIG_RECIPES = (
    "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "arn:aws:personalize:::recipe/aws-personalized-ranking-v2",
)
# Each dataset type's required schema fields (Personalize's dataset schema rules).
_REQUIRED_FIELDS = {
    "INTERACTIONS": {"USER_ID", "ITEM_ID", "TIMESTAMP"},
    "USERS": {"USER_ID"},
    "ITEMS": {"ITEM_ID"},
}
_MODEL = botocore.session.get_session().get_service_model("personalize")


class ControlPlaneError(Exception):
    """An AWS error: its code (`__type`) and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:personalize:{REGION}:{ACCOUNT}:{kind}/{name}"


@dataclass(frozen=True)
class EventWeight:
    weight: float
    threshold: float | None


@dataclass
class ControlPlane:
    dataset_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    solutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    filters: dict[str, dict[str, Any]] = field(default_factory=dict)
    _parsed_filters: dict[str, InteractionFilter | ItemFilter] = field(default_factory=dict)

    def handle(self, operation: str, body: Any) -> dict[str, Any]:
        """Answer one call; raises ControlPlaneError with AWS's code."""
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise ControlPlaneError("UnknownOperationException", f"{operation} not emulated")
        errors = validate(_MODEL.operation_model(operation).input_shape, body)
        if errors:
            raise ControlPlaneError("InvalidInputException", "; ".join(errors))
        answer: dict[str, Any] = handler(body)
        return answer

    # What GetRecommendations needs.

    def interaction_filter(self, filter_arn: str) -> InteractionFilter | ItemFilter:
        if filter_arn not in self._parsed_filters:
            raise ControlPlaneError("ResourceNotFoundException", f"filter {filter_arn} not found")
        return self._parsed_filters[filter_arn]

    def event_weights(self) -> dict[str, EventWeight] | None:
        """The latest solution's eventsConfig (lower-cased types); None: no solution has one,
        and then, as in Personalize, every event type counts with equal weight."""
        for solution in reversed(list(self.solutions.values())):
            config = solution.get("solutionConfig", {}).get("eventsConfig")
            if config:
                return {
                    p["eventType"].lower(): EventWeight(
                        float(p.get("weight", 1.0)), p.get("eventValueThreshold")
                    )
                    for p in config.get("eventParametersList", [])
                }
        return None

    # Helpers.

    def _group(self, arn: str) -> dict[str, Any]:
        if arn not in self.dataset_groups:
            raise ControlPlaneError("ResourceNotFoundException", f"dataset group {arn} not found")
        return self.dataset_groups[arn]

    @staticmethod
    def _new(name: str, arn_key: str, arn: str, **fields: Any) -> dict[str, Any]:
        now = time.time()
        return {
            "name": name,
            arn_key: arn,
            "creationDateTime": now,
            "lastUpdatedDateTime": now,
            **fields,
        }

    @staticmethod
    def _find(table: dict[str, dict[str, Any]], arn: str, what: str) -> dict[str, Any]:
        if arn not in table:
            raise ControlPlaneError("ResourceNotFoundException", f"{what} {arn} not found")
        return table[arn]

    @staticmethod
    def _taken(table: dict[str, dict[str, Any]], arn: str, what: str) -> None:
        if arn in table:
            raise ControlPlaneError("ResourceAlreadyExistsException", f"{what} {arn} exists")

    @staticmethod
    def _in_group(table: dict[str, dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
        group = body.get("datasetGroupArn")
        return [r for r in table.values() if group is None or r["datasetGroupArn"] == group]

    @staticmethod
    def _summary(resource: dict[str, Any], *keys: str) -> dict[str, Any]:
        return {k: resource[k] for k in keys if k in resource}

    # Dataset groups.

    def _CreateDatasetGroup(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = _arn("dataset-group", body["name"])
        self._taken(self.dataset_groups, arn, "dataset group")
        self.dataset_groups[arn] = self._new(
            body["name"], "datasetGroupArn", arn, status="ACTIVE", domain=body.get("domain")
        )
        return {"datasetGroupArn": arn}

    def _DescribeDatasetGroup(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body["datasetGroupArn"])
        return {"datasetGroup": {k: v for k, v in group.items() if v is not None}}

    def _ListDatasetGroups(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime")
        return {"datasetGroups": [self._summary(g, *keys) for g in self.dataset_groups.values()]}

    # Schemas (account-wide, not in a dataset group).

    def _CreateSchema(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = _arn("schema", body["name"])
        self._taken(self.schemas, arn, "schema")
        try:
            avro = orjson.loads(body["schema"])
        except orjson.JSONDecodeError as exc:
            raise ControlPlaneError("InvalidInputException", f"schema is not JSON: {exc}") from None
        if not (
            isinstance(avro, dict)
            and avro.get("type") == "record"
            and isinstance(avro.get("fields"), list)
            and all(isinstance(f, dict) and "name" in f and "type" in f for f in avro["fields"])
        ):
            raise ControlPlaneError("InvalidInputException", "schema is not an Avro record")
        self.schemas[arn] = self._new(body["name"], "schemaArn", arn, schema=body["schema"])
        return {"schemaArn": arn}

    def _DescribeSchema(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"schema": self._find(self.schemas, body["schemaArn"], "schema")}

    def _ListSchemas(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "schemaArn", "creationDateTime", "lastUpdatedDateTime")
        return {"schemas": [self._summary(s, *keys) for s in self.schemas.values()]}

    # Datasets.

    def _CreateDataset(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body["datasetGroupArn"])
        schema = self._find(self.schemas, body["schemaArn"], "schema")
        kind = body["datasetType"].upper()
        if kind not in _REQUIRED_FIELDS:
            raise ControlPlaneError("InvalidInputException", f"datasetType {kind} not emulated")
        names = {f["name"] for f in orjson.loads(schema["schema"])["fields"]}
        missing = _REQUIRED_FIELDS[kind] - names
        if missing:
            raise ControlPlaneError(
                "InvalidInputException", f"a {kind.lower()} schema needs {sorted(missing)}"
            )
        arn = _arn("dataset", f"{group['name']}/{kind}")
        self._taken(self.datasets, arn, "dataset")
        self.datasets[arn] = self._new(
            body["name"],
            "datasetArn",
            arn,
            datasetGroupArn=body["datasetGroupArn"],
            datasetType=kind,
            schemaArn=body["schemaArn"],
            status="ACTIVE",
        )
        return {"datasetArn": arn}

    def dataset_fields(self, dataset_arn: str, dataset_type: str) -> set[str] | None:
        """The schema's field names of a dataset of that type created here (None: unknown to
        the emulator, which then accepts any PutUsers/PutItems properties, as any tracker)."""
        dataset = self.datasets.get(dataset_arn)
        if dataset is None or dataset["datasetType"] != dataset_type:
            return None
        schema = self.schemas[dataset["schemaArn"]]
        return {f["name"] for f in orjson.loads(schema["schema"])["fields"]}

    def _DescribeDataset(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"dataset": self._find(self.datasets, body["datasetArn"], "dataset")}

    def _ListDatasets(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "datasetArn", "datasetType", "status", "creationDateTime")
        return {"datasets": [self._summary(d, *keys) for d in self._in_group(self.datasets, body)]}

    # Event trackers: one per dataset group, after its interactions dataset.

    def _CreateEventTracker(self, body: dict[str, Any]) -> dict[str, Any]:
        group_arn = body["datasetGroupArn"]
        self._group(group_arn)
        if self._in_group(self.event_trackers, body):
            raise ControlPlaneError(
                "ResourceAlreadyExistsException", f"{group_arn} already has an event tracker"
            )
        if not any(d["datasetType"] == "INTERACTIONS" for d in self._in_group(self.datasets, body)):
            raise ControlPlaneError(
                "InvalidInputException", f"{group_arn} has no interactions dataset yet"
            )
        arn = _arn("event-tracker", uuid.uuid4().hex[:8])
        tracking_id = str(uuid.uuid4())
        self.event_trackers[arn] = self._new(
            body["name"],
            "eventTrackerArn",
            arn,
            accountId=ACCOUNT,
            trackingId=tracking_id,
            datasetGroupArn=group_arn,
            status="ACTIVE",
        )
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def _DescribeEventTracker(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body["eventTrackerArn"]
        return {"eventTracker": self._find(self.event_trackers, arn, "event tracker")}

    def _ListEventTrackers(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "eventTrackerArn", "status", "creationDateTime")
        trackers = self._in_group(self.event_trackers, body)
        return {"eventTrackers": [self._summary(t, *keys) for t in trackers]}

    # Solutions.

    def _CreateSolution(self, body: dict[str, Any]) -> dict[str, Any]:
        self._group(body["datasetGroupArn"])
        arn = _arn("solution", body["name"])
        self._taken(self.solutions, arn, "solution")
        recipe = body.get("recipeArn")
        if not recipe and not body.get("performAutoML"):
            raise ControlPlaneError("InvalidInputException", "recipeArn is required")
        events = body.get("solutionConfig", {}).get("eventsConfig")
        if events is not None:
            if recipe not in EVENTS_CONFIG_RECIPES:
                raise ControlPlaneError(
                    "InvalidInputException", f"eventsConfig needs one of {EVENTS_CONFIG_RECIPES}"
                )
            types = [p.get("eventType", "") for p in events.get("eventParametersList", [])]
            if len(types) != len(set(types)):
                raise ControlPlaneError("InvalidInputException", "an eventType appears twice")
        self.solutions[arn] = self._new(
            body["name"],
            "solutionArn",
            arn,
            **{k: v for k, v in body.items() if k not in ("name", "tags")},
            status="ACTIVE",
        )
        return {"solutionArn": arn}

    def _DescribeSolution(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"solution": self._find(self.solutions, body["solutionArn"], "solution")}

    def _ListSolutions(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "solutionArn", "status", "creationDateTime", "recipeArn")
        solutions = self._in_group(self.solutions, body)
        return {"solutions": [self._summary(s, *keys) for s in solutions]}

    # Filters.

    def _CreateFilter(self, body: dict[str, Any]) -> dict[str, Any]:
        self._group(body["datasetGroupArn"])
        arn = _arn("filter", body["name"])
        self._taken(self.filters, arn, "filter")
        if len(self._in_group(self.filters, body)) >= MAX_FILTERS_PER_DATASET_GROUP:
            raise ControlPlaneError(
                "LimitExceededException",
                f"{body['datasetGroupArn']} has {MAX_FILTERS_PER_DATASET_GROUP} filters already",
            )
        try:
            parsed = parse(body["filterExpression"])
        except FilterExpressionError as exc:
            raise ControlPlaneError("InvalidInputException", str(exc)) from None
        self.filters[arn] = self._new(
            body["name"],
            "filterArn",
            arn,
            datasetGroupArn=body["datasetGroupArn"],
            filterExpression=body["filterExpression"],
            status="ACTIVE",
        )
        self._parsed_filters[arn] = parsed
        return {"filterArn": arn}

    def _DescribeFilter(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"filter": self._find(self.filters, body["filterArn"], "filter")}

    def _ListFilters(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "filterArn", "datasetGroupArn", "status", "creationDateTime")
        return {"Filters": [self._summary(f, *keys) for f in self._in_group(self.filters, body)]}
