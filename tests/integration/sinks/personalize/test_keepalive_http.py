"""The lean sender's keep-alive connections against a real HTTP server over TCP: reuse, a
server that closes, timeouts and resets, each failure raised as botocore's own exception."""

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)

from devtools.kafka_broker import free_port
from sinks.personalize.keepalive_http import KeepAliveHTTP
from tests.fixtures.certificates import install, self_signed
from tests.fixtures.kafka_fixture import wait_for
from tests.fixtures.sink_helpers import client_settings


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode = "keep-alive"  # or "close" (says so), "hang-up" (closes silently), "slow", "reset"
    connections = 0
    closed = 0
    release = threading.Event()

    def shutdown_request(self, request: Any) -> None:
        """Counted once the socket is closed (the handler's finish() comes before that)."""
        super().shutdown_request(request)
        self.closed += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.server.mode
        if mode == "slow":
            self.server.release.wait(5)
        if mode == "reset":  # RST instead of an answer
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "r-1")
        if mode == "close":
            self.send_header("Connection", "close")
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            if mode != "slow":  # a slow answer's client has timed out and gone, as intended
                raise
            self.close_connection = True
            return
        self.close_connection = mode in ("close", "hang-up")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", free_port()), _Handler)
    httpd.connections = httpd.closed = 0
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def _client(server: _Server, read_timeout: float = 5.0) -> KeepAliveHTTP:
    return KeepAliveHTTP(f"http://127.0.0.1:{server.server_address[1]}", 2.0, read_timeout)


def _post(client: KeepAliveHTTP, n: int) -> None:
    response = client.post("/events", f'{{"n": {n}}}'.encode(), {"Content-Type": "x"})
    assert response.status_code == 200
    assert response.content == f'{{"n": {n}}}'.encode()
    assert response.headers["x-amzn-requestid"] == "r-1"


def test_one_connection_carries_every_call_of_a_thread(server: _Server) -> None:
    client = _client(server)
    for n in range(5):
        _post(client, n)
    assert server.connections == 1


@pytest.mark.parametrize("mode", ["close", "hang-up"])
def test_a_connection_the_server_closed_is_replaced_before_the_next_call(
    server: _Server, mode: str
) -> None:
    server.mode = mode  # "hang-up": closed after the answer without saying so
    client = _client(server)
    for n in range(3):
        _post(client, n)  # no error: the closed connection is never written to
        wait_for(lambda: server.closed == n + 1, what="the server closing")  # noqa: B023
    assert server.connections == 3


def test_read_timeout_is_botocores_and_the_next_call_works(server: _Server) -> None:
    client = _client(server, read_timeout=0.2)
    server.mode = "slow"
    with pytest.raises(ReadTimeoutError):
        _post(client, 1)
    server.mode = "keep-alive"
    server.release.set()
    _post(client, 2)


def test_reset_connection_is_botocores_closed_error_and_the_next_call_works(
    server: _Server,
) -> None:
    client = _client(server)
    _post(client, 1)
    server.mode = "reset"
    with pytest.raises(ConnectionClosedError):
        _post(client, 2)
    server.mode = "keep-alive"
    _post(client, 3)


def test_refused_connection_is_botocores_endpoint_error() -> None:
    client = KeepAliveHTTP(f"http://127.0.0.1:{free_port()}", 2.0, 2.0)
    with pytest.raises(EndpointConnectionError):
        client.post("/events", b"{}", {})


def test_each_thread_has_its_own_connection(server: _Server) -> None:
    client = _client(server)
    threads = [threading.Thread(target=_post, args=(client, n)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _post(client, 9)  # the main thread: a fourth connection
    assert server.connections == 4


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    cert_file, key_file = install(tmp_path, self_signed("127.0.0.1"))
    httpd = _Server(("127.0.0.1", free_port()), _Handler)
    httpd.connections = httpd.closed = 0
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, cert_file
    httpd.shutdown()
    httpd.server_close()


def test_tls_with_the_configured_ca_bundle(tls_server: tuple[_Server, Path]) -> None:
    server, cert_file = tls_server
    url = f"https://127.0.0.1:{server.server_address[1]}"
    client = KeepAliveHTTP(url, 2.0, 5.0, ca_bundle=str(cert_file))
    for n in range(3):
        _post(client, n)
    assert server.connections == 1


def test_tls_refuses_a_certificate_it_does_not_trust(tls_server: tuple[_Server, Path]) -> None:
    server, _ = tls_server
    client = KeepAliveHTTP(f"https://127.0.0.1:{server.server_address[1]}", 2.0, 5.0)
    with pytest.raises(SSLError):  # botocore's CA bundle does not hold our certificate
        client.post("/events", b"{}", {})


@pytest.mark.parametrize("choice", ["lean", "boto3"])
def test_the_sinks_client_trusts_what_aws_ca_bundle_names(
    tls_server: tuple[_Server, Path], monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    """As boto3 does: AWS_CA_BUNDLE (e.g. a corporate CA) is what TLS verifies against."""
    from sinks.personalize.client import build_client
    from sinks.personalize.rate_limit import RateLimiter

    server, cert_file = tls_server
    settings = client_settings(
        monkeypatch,
        f"https://127.0.0.1:{server.server_address[1]}",
        sink_put_events_client=choice,
        sink_max_attempts=1,
    )
    request = {"trackingId": "t1", "sessionId": "s", "eventList": []}
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    with pytest.raises(SSLError):
        build_client(settings, RateLimiter(1000.0)).put_events(**request)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert_file))
    answer = build_client(settings, RateLimiter(1000.0)).put_events(**request)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_tls_read_timeout_is_botocores_and_the_next_call_works(
    tls_server: tuple[_Server, Path],
) -> None:
    """The kernel's read timeout under TLS (the socket is blocking) is a read timeout too."""
    server, cert_file = tls_server
    url = f"https://127.0.0.1:{server.server_address[1]}"
    client = KeepAliveHTTP(url, 2.0, 0.2, ca_bundle=str(cert_file))
    server.mode = "slow"
    server.release = threading.Event()
    with pytest.raises(ReadTimeoutError):
        _post(client, 1)
    server.mode = "keep-alive"
    server.release.set()
    _post(client, 2)
