"""The tests' environment: none of the caller's service settings leak in.

A developer's shell may export the services' own variables (their AMPLITUDE_WEBHOOK_SECRET,
an AWS profile, a SINK_GROUP_ID). The tests and every service process they start are meant
to run on the settings the fixtures give them, so before anything else is imported these are
removed from os.environ, which child processes inherit. `KAFKA_BOOTSTRAP_SERVERS` stays: it is
how a caller points the tests at a cluster of their own (tests/kafka_fixture.py).
"""

import os

KEPT = {"KAFKA_BOOTSTRAP_SERVERS"}
# Read by libraries, not by our settings classes: botocore (AWS_*, some of them on import of
# the emulator, which loads botocore's service model) and HTTP clients (proxies).
_LIBRARY_PREFIXES = ("AWS_",)
_LIBRARY_NAMES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


def service_variables() -> set[str]:
    """Every variable a service's settings class reads."""
    from backfill import BackfillSettings
    from emulator import EmulatorSettings
    from ingest import IngestSettings
    from personalize import PersonalizeSetupSettings
    from recommendations import RecommendationsSettings
    from sinks import SinkSettings
    from sinks.history_settings import HistorySettings
    from streams import StreamsSettings

    names = {f"EMULATOR_{name}".upper() for name in EmulatorSettings.model_fields}
    for settings in (
        IngestSettings,
        StreamsSettings,
        SinkSettings,
        RecommendationsSettings,
        HistorySettings,
        BackfillSettings,
        PersonalizeSetupSettings,
    ):
        names |= {name.upper() for name in settings.model_fields}
    return names


def _remove(foreign: set[str] | None = None) -> list[str]:
    def matches(name: str) -> bool:
        upper = name.upper()  # pydantic-settings matches names in any case
        if upper in KEPT:
            return False
        if foreign is not None:
            return upper in foreign
        return upper.startswith(_LIBRARY_PREFIXES) or upper in _LIBRARY_NAMES

    removed = [name for name in os.environ if matches(name)]
    for name in removed:
        del os.environ[name]
    return removed


def strip_caller_settings() -> list[str]:
    """Remove the caller's AWS, proxy and service settings from os.environ (the library ones
    first: importing the services reads some); returns their names."""
    removed = _remove()
    return sorted(removed + _remove(service_variables()))
