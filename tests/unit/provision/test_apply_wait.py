"""apply waits for what Personalize creates asynchronously, and says so when it fails."""

from typing import Any

import pytest

from provision import PersonalizeSetupSettings
from provision.apply import ApplyError, _Applier


class Statuses:
    """A client whose describe_dataset_group walks through the given statuses."""

    def __init__(self, *statuses: str) -> None:
        self._statuses = list(statuses)

    def describe_dataset_group(self, **_: Any) -> dict[str, Any]:
        status = self._statuses.pop(0)
        return {"datasetGroup": {"status": status, "failureReason": "role cannot be assumed"}}


def wait(client: Statuses, sleeps: list[float]) -> dict[str, Any]:
    applier = _Applier(client, PersonalizeSetupSettings(), sleeps.append)
    return applier._wait("describe_dataset_group", {"datasetGroupArn": "a"}, "datasetGroup")


def test_pending_until_active() -> None:
    sleeps: list[float] = []
    assert wait(Statuses("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"), sleeps)["status"]
    assert len(sleeps) == 2


def test_a_failed_creation_is_an_error_with_the_reason() -> None:
    with pytest.raises(ApplyError, match="CREATE FAILED: role cannot be assumed"):
        wait(Statuses("CREATE PENDING", "CREATE FAILED"), [])
