"""The history sink against a real broker and moto's S3 server; import jobs at the emulator."""

import csv
import io
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from core.settings import KafkaSettings
from sinks.history.import_job import ImportJobError, start_import_job
from sinks.history.settings import HistorySettings
from sinks.history.sink import HistorySink
from tests.fixtures.kafka_fixture import committed_total, wait_for
from tests.fixtures.personalize_fixture import RunningEmulator

DATASET = "arn:aws:personalize:us-east-1:000000000000:dataset/local/INTERACTIONS"
ROLE = "arn:aws:iam::000000000000:role/personalize-import"


def interaction(user: str, n: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"{user}-{n}",
            "user_id": user,
            "session_id": "s",
            "item_id": f"i{n}",
            "event_type": "click",
            "personalize_event_type": "click",
            "weight": 1.0,
            "timestamp_ms": 1700000000000 + n * 1000,
            "schema_version": 1,
        }
    )


@pytest.fixture
def history_settings(kafka_settings: KafkaSettings, s3: Any, s3_endpoint: str) -> HistorySettings:
    bucket = f"history-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    return HistorySettings(
        **kafka_settings.model_dump(),
        history_group_id=f"history-{uuid.uuid4().hex[:8]}",
        history_target=f"s3://{bucket}/interactions",
        s3_endpoint_url=s3_endpoint,
        history_roll_seconds=0.5,
    )


@pytest.fixture
def running_history(history_settings: HistorySettings) -> Iterator[HistorySink]:
    sink = HistorySink(history_settings)
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,))
    thread.start()
    yield sink
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def objects(s3: Any, settings: HistorySettings) -> dict[str, bytes]:
    bucket = settings.history_target.removeprefix("s3://").split("/")[0]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="interactions/")
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing.get("Contents", [])
    }


def committed(settings: HistorySettings) -> int:
    return committed_total(settings, settings.history_group_id)


def test_interactions_land_in_s3_as_bulk_import_csv_and_offsets_follow(
    running_history: HistorySink, history_settings: HistorySettings, s3: Any
) -> None:
    producer = Producer({"bootstrap.servers": history_settings.kafka_bootstrap_servers})
    for n in range(20):
        user = f"u{n % 4}"
        producer.produce(history_settings.interactions_topic, interaction(user, n), user.encode())
    producer.produce(history_settings.interactions_topic, b"not an interaction", b"u0")
    assert producer.flush(10) == 0

    def rows() -> list[dict[str, str]]:
        found = []
        for data in objects(s3, history_settings).values():
            found += list(csv.DictReader(io.StringIO(data.decode())))
        return found

    got = wait_for(lambda: len(r := rows()) == 20 and r, what="20 rows in S3")
    assert sorted(int(r["ITEM_ID"][1:]) for r in got) == list(range(20))
    first = next(r for r in got if r["ITEM_ID"] == "i3")
    assert first == {
        "USER_ID": "u3",
        "ITEM_ID": "i3",
        "TIMESTAMP": "1700000003",
        "EVENT_TYPE": "click",
        "EVENT_VALUE": "1.0",
        "IMPRESSION": "",
        "RECOMMENDATION_ID": "",
    }
    assert all(key.endswith(".csv") for key in objects(s3, history_settings))
    # 21 records, the invalid one included: every offset written (or skipped) is committed.
    wait_for(lambda: committed(history_settings) == 21, what="21 offsets committed")


def test_import_job_for_a_prefix(
    history_settings: HistorySettings, s3: Any, personalize_emulator: RunningEmulator
) -> None:
    bucket = history_settings.history_target.removeprefix("s3://").split("/")[0]
    settings = history_settings.model_copy(
        update={
            "personalize_api_endpoint_url": personalize_emulator.url,
            "aws_personalize_dataset_arn": DATASET,
            "aws_personalize_import_role_arn": ROLE,
        }
    )
    with pytest.raises(ImportJobError, match=r"no \.csv file under"):
        start_import_job(settings, f"s3://{bucket}/interactions/")
    s3.put_object(Bucket=bucket, Key="interactions/a.csv", Body=b"USER_ID\n")

    arn = start_import_job(settings, f"s3://{bucket}/interactions", job_name="job-1")

    assert arn.endswith("dataset-import-job/job-1")
    with urllib.request.urlopen(f"{personalize_emulator.url}/_emulator/import-jobs") as response:
        jobs = orjson.loads(response.read())
    assert jobs == [
        {
            "jobName": "job-1",
            "datasetArn": DATASET,
            "roleArn": ROLE,
            "dataSource": {"dataLocation": f"s3://{bucket}/interactions/"},
            "importMode": "INCREMENTAL",
        }
    ]
