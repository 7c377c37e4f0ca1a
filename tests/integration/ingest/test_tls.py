"""The webhook over HTTPS, as a process: a self-signed certificate, then a renewal picked up on
SIGHUP or on the files' change, with the listener (and its open connections) kept."""

import http.client
import os
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from tests.fixtures.certificates import common_name, install, self_signed
from tests.fixtures.kafka_fixture import TopicReader, topic_env, wait_for
from tests.fixtures.service_process import ServiceProcess

SECRET = "tls-test-secret-0123456789abcdefghijklmnop"
EVENT = orjson.dumps({"event_type": "click", "user_id": "u-tls", "insert_id": "tls-1"})


class TLSIngest:
    def __init__(self, port: int, directory: Path, service: ServiceProcess, reload_by: str):
        self.port, self.directory, self.service = port, directory, service
        self.reload_by = reload_by

    def refusals(self) -> int:
        return self.service.log.read_text().count("not reloaded")

    def served_name(self) -> str:
        """The common name of the certificate a new connection is handed."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
        assert der is not None
        return common_name(der)

    def connection(self, trusted: Path) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(trusted))
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=context)


def post(connection: http.client.HTTPSConnection) -> int:
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    connection.request("POST", "/webhooks/amplitude", body=EVENT, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.fixture(params=["sighup", "file change"])
def ingest(
    request: pytest.FixtureRequest, kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[TLSIngest]:
    port, internal = free_port(), free_port()
    cert, key = install(tmp_path, self_signed("first"))
    service = ServiceProcess(
        "ingest",
        {
            **topic_env(kafka_settings),
            "AMPLITUDE_WEBHOOK_SECRET": SECRET,
            "INGEST_PORT": str(port),
            "INGEST_INTERNAL_PORT": str(internal),
            "INGEST_TLS_CERT_FILE": str(cert),
            "INGEST_TLS_KEY_FILE": str(key),
            # SIGHUP alone, or a check of the files four times a second.
            "INGEST_TLS_RELOAD_INTERVAL_SECONDS": "3600" if request.param == "sighup" else "0.25",
        },
        f"http://127.0.0.1:{internal}/readyz",
        tmp_path / "ingest.log",
    ).start()
    yield TLSIngest(port, tmp_path, service, request.param)
    assert service.stop() == 0


def test_https_then_a_renewed_certificate_without_dropping_the_listener(
    ingest: TLSIngest,
    kafka_settings: KafkaSettings,
    topic_reader: Callable[[str], TopicReader],
) -> None:
    first = ingest.directory / "first.pem"
    first.write_bytes((ingest.directory / "cert.pem").read_bytes())
    assert ingest.served_name() == "first"
    kept = ingest.connection(trusted=first)
    assert post(kept) == 200  # HTTPS, verified against the certificate it was given

    # Plain HTTP on the TLS port gets no answer from the webhook.
    plain = http.client.HTTPConnection("127.0.0.1", ingest.port, timeout=5)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        plain.request("POST", "/webhooks/amplitude", body=EVENT)
        plain.getresponse()

    second = install(ingest.directory, self_signed("second"))[0]
    process = ingest.service.process
    assert process is not None
    if ingest.reload_by == "sighup":
        assert ingest.served_name() == "first"  # not before the signal
        os.kill(process.pid, signal.SIGHUP)
    wait_for(lambda: ingest.served_name() == "second", 10, "the renewed certificate served")

    assert post(ingest.connection(trusted=second)) == 200
    assert post(kept) == 200  # the connection opened before the renewal still works
    assert process.poll() is None  # same process, same listener

    # A broken pair (a key that is not the certificate's) is refused; the second stays.
    refused = ingest.refusals()
    (ingest.directory / "key.pem").write_bytes(self_signed("third")[1])
    os.kill(process.pid, signal.SIGHUP)
    wait_for(lambda: ingest.refusals() > refused, 10, "the broken pair refused")
    assert ingest.served_name() == "second"
    assert post(ingest.connection(trusted=second)) == 200

    written = topic_reader(kafka_settings.raw_topic).read(4)
    assert {m.key() for m in written} == {b"u-tls"}
