"""Prints docs/configuration.md: every service's environment variables, from its settings class.

The settings classes are the one place configuration is described (a `description=` on every
field); this turns them into the reference, so the two cannot drift apart. Regenerate with
`.venv/bin/python -m devtools.config_reference > docs/configuration.md` (a unit test fails when
the file is not what this prints).
"""

import types
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

import orjson
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from backfill import BackfillSettings
from core.settings import KafkaSettings
from devtools.emulator import EmulatorSettings
from ingest import IngestSettings
from provision import PersonalizeSetupSettings
from recommendations import RecommendationsSettings
from sinks.catalog import CatalogSinkSettings
from sinks.history.settings import HistorySettings
from sinks.personalize import SinkSettings
from streams import StreamsSettings

COMMAND = ".venv/bin/python -m devtools.config_reference > docs/configuration.md"

# (heading, where the class lives, what reads it, the class). The first is shared: every class
# that extends it is listed below with its own fields only.
SECTIONS: list[tuple[str, str, str, type[BaseSettings]]] = [
    (
        "Every service: Kafka and topics",
        "core/settings.py",
        "ingest, streams, both sinks, recommendations, backfill and `pipeline topics`",
        KafkaSettings,
    ),
    ("Ingest (the webhook)", "ingest/settings.py", "`pipeline ingest`", IngestSettings),
    ("Streams (the Faust stage)", "streams/settings.py", "`pipeline streams`", StreamsSettings),
    (
        "Personalize sink",
        "sinks/personalize/settings.py",
        "`pipeline sink`",
        SinkSettings,
    ),
    (
        "Users and items sinks",
        "sinks/catalog/settings.py",
        "`pipeline users-sink` and `pipeline items-sink`",
        CatalogSinkSettings,
    ),
    (
        "History sink",
        "sinks/history/settings.py",
        "`pipeline history` and `pipeline import-job`",
        HistorySettings,
    ),
    (
        "Recommendations API",
        "recommendations/settings.py",
        "`pipeline recommendations`",
        RecommendationsSettings,
    ),
    ("Backfill", "backfill/settings.py", "`pipeline backfill`", BackfillSettings),
    (
        "Personalize plan / apply",
        "provision/settings.py",
        "`pipeline personalize plan` and `pipeline personalize apply`",
        PersonalizeSetupSettings,
    ),
    (
        "Personalize emulator (development only)",
        "devtools/emulator/personalize.py",
        "`pipeline emulator` and `make run`",
        EmulatorSettings,
    ),
]

_HEADER = f"""\
# Configuration reference

<!-- Generated from the settings classes' field descriptions: do not edit by hand.
     Regenerate: {COMMAND} -->

Every service reads its settings once, at start-up, from environment variables
(pydantic-settings; names are matched in any case). Each service's settings extend the shared
Kafka settings, so one environment configures all of them. `make run` (devtools/stack.py) sets
its own values for the local stack: `PIPELINE_ENV=local`, the published development secret and
API key, a generated recommendations token, the emulator's endpoints and ARNs, short session
timeouts and history rolls, and topics of its own on a cluster given by
`KAFKA_BOOTSTRAP_SERVERS`; its banner prints them. Secrets are marked; their defaults, if any, are
not shown. AWS credentials come from boto3's usual chain (`AWS_ACCESS_KEY_ID`, ...), not from these
classes.
"""


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable pydantic-settings reads for a field."""
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def own_fields(settings: type[BaseSettings]) -> Iterator[tuple[str, FieldInfo]]:
    """The fields a class adds to the shared Kafka settings (all of them for the others)."""
    shared = KafkaSettings.model_fields if settings is not KafkaSettings else {}
    for name, field in settings.model_fields.items():
        if name not in shared:
            yield name, field


def is_secret(annotation: object) -> bool:
    """A SecretStr anywhere in the type (`SecretStr | None`, `list[SecretStr]`)."""
    if annotation is SecretStr:
        return True
    return any(is_secret(argument) for argument in get_args(annotation))


def type_name(annotation: object) -> str:
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{argument}`" for argument in arguments)
    if origin in (Union, types.UnionType):
        return " \\| ".join(type_name(argument) for argument in arguments)
    if annotation is type(None):
        return "None"
    if origin is not None:
        inner = ", ".join(type_name(argument) for argument in arguments)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field: FieldInfo) -> str:
    if is_secret(field.annotation):
        return "unset" if field.default is None else "not shown (secret)"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list):
        return f"`{orjson.dumps(value).decode()}`" if value else "empty"
    if isinstance(value, str | Path) and str(value) == "":
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    """One table cell: on one line, its pipes escaped, and `<name>` outside code kept visible
    (Markdown would take it for an HTML tag)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(
        part.replace("<", "&lt;") if index % 2 == 0 else part for index, part in enumerate(parts)
    )


def render() -> str:
    """The whole reference, as docs/configuration.md holds it."""
    lines = [_HEADER]
    for heading, path, readers, settings in SECTIONS:
        lines.append(f"## {heading}\n")
        shares = settings is not KafkaSettings and issubclass(settings, KafkaSettings)
        base = " It also reads every shared Kafka setting above." if shares else ""
        lines.append(f"`{settings.__name__}` in `{path}`, read by {readers}.{base}\n")
        lines.append("| variable | type | default | description |")
        lines.append("|---|---|---|---|")
        for name, field in own_fields(settings):
            variable = f"`{env_name(settings, name)}`"
            if is_secret(field.annotation):
                variable += " (secret)"
            description = _cell(field.description or "")
            row = [variable, type_name(field.annotation), default_text(field), description]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
