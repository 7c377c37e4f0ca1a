"""Root conftest: the broker and emulator fixtures, each in one module, shared by all tests."""

pytest_plugins = ["tests.kafka_fixture", "tests.personalize_fixture"]
