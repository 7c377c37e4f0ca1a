"""The caller's own service settings never reach the tests or the services they start."""

import os

import pytest

from tests.fixtures.environment import service_variables, strip_caller_settings


def test_the_callers_service_aws_and_proxy_settings_are_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = {
        "AMPLITUDE_WEBHOOK_SECRET": "my-own-secret",
        "sink_group_id": "production-sink",  # pydantic-settings reads any case
        "AWS_PROFILE": "production",
        "HTTPS_PROXY": "http://proxy.example:3128",
        "EMULATOR_PORT": "9999",
    }
    for name, value in mine.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "my-cluster:9092")
    monkeypatch.setenv("HOME_IS_NOT_A_SETTING", "kept")
    removed = strip_caller_settings()
    assert set(mine) <= set(removed)
    assert not set(mine) & set(os.environ)
    assert os.environ["KAFKA_BOOTSTRAP_SERVERS"] == "my-cluster:9092"  # the documented opt-in
    assert os.environ["HOME_IS_NOT_A_SETTING"] == "kept"


def test_every_service_setting_is_known() -> None:
    names = service_variables()
    for name in ("AMPLITUDE_WEBHOOK_SECRET", "SINK_GROUP_ID", "STREAMS_APP_ID", "HISTORY_TARGET"):
        assert name in names
