"""Root conftest: the broker, emulator and S3 fixtures, each in one module, shared by all."""

pytest_plugins = [
    "tests.kafka_fixture",
    "tests.kafka_cluster",
    "tests.personalize_fixture",
    "tests.s3_fixture",
]
