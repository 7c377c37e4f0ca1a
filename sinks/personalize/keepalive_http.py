"""One keep-alive HTTP(S) connection per PutEvents thread, on the standard library's http.client.

botocore's `URLLib3Session` and urllib3's pool cost CPU on every call (pool lookup, URL parsing,
`Retry` and `Timeout` objects, response wrapping) on top of what http.client spends on the exchange
itself (bench/README.md, "Sink", measures both). The sink's pool is a fixed set of threads, each
sending one call at a time, so one connection per thread is the whole pool it needs. Failures are
raised as the botocore exceptions `URLLib3Session` raises for the same causes, so botocore's retry
policy and delivery.py treat them alike. TLS verifies as botocore does: against `ca_bundle`
(AWS_CA_BUNDLE or the profile's ca_bundle, passed in by the caller), else botocore's bundle.
"""

import http.client
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path
from urllib3.util.wait import wait_for_read


class _Body:
    """What `AWSResponse.content` reads: the body, already read whole."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self) -> list[bytes]:
        return [self._content]


class KeepAliveHTTP:
    """POSTs to one endpoint over a persistent connection per calling thread; `send` stands in
    for `URLLib3Session.send`."""

    def __init__(
        self,
        endpoint_url: str,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None = None,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {endpoint_url!r}")
        self._url = endpoint_url
        self._host, self._port = parts.hostname, parts.port
        self._tls = (
            ssl.create_default_context(cafile=ca_bundle or get_cert_path(True))
            if parts.scheme == "https"
            else None
        )
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._local = threading.local()

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        """A signed, prepared botocore request (a POST to this endpoint)."""
        return self.post(urlsplit(request.url).path, request.body, request.headers)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> AWSResponse:
        """`headers`: a plain mapping (http.client iterates its items)."""
        connection = self._connection()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            content = response.read()
        except Exception as exc:
            self._drop()
            raise self._exchange_error(exc) from exc
        if response.will_close:  # the server said "Connection: close" (or HTTP/1.0)
            self._drop()
        return AWSResponse(self._url, response.status, response.getheaders(), _Body(content))

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's open connection, or a new one (an idle one the server closed is
        readable: it is replaced before use, as urllib3 does)."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and (
            connection.sock is None or wait_for_read(connection.sock, 0)
        ):
            self._drop()
            connection = None
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _connect(self) -> http.client.HTTPConnection:
        connection = (
            http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._tls
            )
            if self._tls is not None
            else http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
        )
        try:
            connection.connect()  # http.client sets TCP_NODELAY
        except TimeoutError as exc:
            connection.close()
            raise ConnectTimeoutError(endpoint_url=self._url, error=exc) from exc
        except ssl.SSLError as exc:
            connection.close()
            raise SSLError(endpoint_url=self._url, error=exc) from exc
        except OSError as exc:  # refused, unreachable, name not resolved
            connection.close()
            raise EndpointConnectionError(endpoint_url=self._url, error=exc) from exc
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _exchange_error(self, exc: Exception) -> Exception:
        """The botocore exception `URLLib3Session` raises for the same failure."""
        if isinstance(exc, TimeoutError):
            return ReadTimeoutError(endpoint_url=self._url, error=exc)
        if isinstance(exc, ssl.SSLError):
            return SSLError(endpoint_url=self._url, error=exc)
        if isinstance(exc, OSError | http.client.HTTPException):  # reset, closed, bad status
            return ConnectionClosedError(endpoint_url=self._url, error=exc)
        return HTTPClientError(error=exc)
