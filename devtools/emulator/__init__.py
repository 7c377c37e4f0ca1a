"""A local stand-in for AWS Personalize: real HTTP, requests checked against botocore's model."""

from devtools.emulator.personalize import EmulatorSettings, create_app, run

__all__ = ["EmulatorSettings", "create_app", "run"]
