"""One keep-alive HTTP(S) connection per PutEvents thread: http.client connects, we exchange.

botocore's `URLLib3Session` and urllib3's pool cost CPU on every call (pool lookup, URL parsing,
`Retry` and `Timeout` objects, response wrapping) on top of what http.client spends on the exchange
itself (bench/README.md, "Sink", measures both). The sink's pool is a fixed set of threads, each
sending one call at a time, so one connection per thread is the whole pool it needs. http.client
opens it (TLS, TCP_NODELAY, timeouts); the request and the answer are written and read here
(`_exchange`: one send, the head parsed with bytes.split, not http.client's per-header checks and
`email` parser, a large share of a call's CPU). The answer is framed as HTTP/1.1 says: chunked,
Content-Length, or up to the close; 1xx answers are skipped. Failures are
raised as the botocore exceptions `URLLib3Session` raises for the same causes, so botocore's retry
policy and delivery.py treat them alike. TLS verifies as botocore does: against `ca_bundle`
(AWS_CA_BUNDLE or the profile's ca_bundle, passed in by the caller), else botocore's bundle.
"""

import functools
import http.client
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path


class _Body:
    """What `AWSResponse.content` reads: the body, already read whole."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self) -> list[bytes]:
        return [self._content]


class Answer(AWSResponse):
    """An `AWSResponse` whose case-insensitive `headers` are built only when read (the error
    path: botocore's parser and retry checks); a delivered call needs `plain_headers` alone."""

    def __init__(self, url: str, status_code: int, headers: list[tuple[str, str]], body: bytes):
        self.url, self.status_code, self.raw = url, status_code, _Body(body)
        self._content = body
        self._header_list = headers

    @functools.cached_property
    def headers(self) -> HeadersDict:  # type: ignore[override]
        return HeadersDict(self._header_list)

    def plain_headers(self) -> dict[str, str]:
        """`dict(self.headers)`: the first spelling of a name, its last value."""
        spelled: dict[str, str] = {}
        plain: dict[str, str] = {}
        for name, value in self._header_list:
            plain[spelled.setdefault(name.lower(), name)] = value
        return plain


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
        # The Host header as http.client writes it: the port only when not the scheme's default.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        if parts.port is not None and parts.port != default_port:
            host = f"{host}:{parts.port}"
        self._host_line = f"Host: {host}\r\nAccept-Encoding: identity\r\n"
        self._tls = (
            ssl.create_default_context(cafile=ca_bundle or get_cert_path(True))
            if parts.scheme == "https"
            else None
        )
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._local = threading.local()

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        """A signed, prepared botocore request (a POST to this endpoint)."""
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        return self.post(urlsplit(request.url).path, body, headers)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """`headers`: a plain mapping (http.client iterates its items)."""
        head = [f"POST {path} HTTP/1.1\r\n", self._host_line]
        for name, value in headers.items():
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise HTTPClientError(error=ValueError(f"invalid header {name!r}"))
            head.append(f"{name}: {value}\r\n")
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "".join(head).encode("latin-1") + body
        connection = self._connection()
        try:
            assert connection.sock is not None
            status, answer_headers, content, close = _exchange(connection.sock, request)
        except Exception as exc:
            self._drop()
            raise self._exchange_error(exc) from exc
        if close:  # the server said "Connection: close", HTTP/1.0, or a body up to the close
            self._drop()
        return Answer(self._url, status, answer_headers, content)

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's open connection, or a new one (an idle one the server closed is
        readable: it is replaced before use, as urllib3 does)."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and (connection.sock is None or self._local.readable.poll(0)):
            self._drop()
            connection = None
        if connection is None:
            connection = self._connect()
            readable = select.poll()  # registered once: one poll(0) a call, as urllib3's check
            readable.register(connection.sock, select.POLLIN)
            self._local.connection, self._local.readable = connection, readable
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


_MAX_HEAD_BYTES = 65536
_READ_BYTES = 65536


class _Answer:
    """Bytes received on one connection for one answer, read on demand."""

    __slots__ = ("_sock", "data")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.data = b""

    def more(self) -> bool:
        """Read what arrived next; False at the end of the stream."""
        chunk = self._sock.recv(_READ_BYTES)
        if not chunk:
            return False
        self.data += chunk
        return True

    def until(self, marker: bytes, limit: int = _MAX_HEAD_BYTES) -> bytes:
        """Everything before `marker` (consumed with it)."""
        while (end := self.data.find(marker)) < 0:
            if len(self.data) > limit:
                raise http.client.LineTooLong("answer head")
            if not self.more():
                raise http.client.RemoteDisconnected("closed before the answer ended")
        found, self.data = self.data[:end], self.data[end + len(marker) :]
        return found

    def exactly(self, size: int) -> bytes:
        while len(self.data) < size:
            if not self.more():
                raise http.client.IncompleteRead(self.data, size - len(self.data))
        found, self.data = self.data[:size], self.data[size:]
        return found


def _exchange(
    sock: socket.socket, request: bytes
) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """Send one request; read its answer: (status, headers, body, the connection must close)."""
    sock.sendall(request)
    answer = _Answer(sock)
    if not answer.more():
        raise http.client.RemoteDisconnected("closed without an answer")
    while True:
        lines = answer.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(lines[0][:100])
        status = int(code)
        if status >= 200 or status == 101:
            break  # 1xx but 101: informational, the real answer follows
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # an obsolete folded continuation line
            name, value = headers.pop()
            headers.append((name, f"{value} {line.strip()}"))
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise http.client.HTTPException(f"malformed header line {line[:100]!r}")
        headers.append((name, value.strip()))
    fields = {name.lower(): value for name, value in headers}
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
    if status in (101, 204, 304):
        return status, headers, b"", close or status == 101
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return status, headers, _chunked(answer), close
    if (length := fields.get("content-length")) is not None:
        if not length.strip().isdigit():
            raise http.client.HTTPException(f"bad Content-Length {length[:50]!r}")
        return status, headers, answer.exactly(int(length)), close
    while answer.more():  # neither: the body ends where the server closes
        pass
    return status, headers, answer.data, True


def _chunked(answer: _Answer) -> bytes:
    parts = []
    while True:
        size_line = answer.until(b"\r\n").split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise http.client.HTTPException(f"bad chunk size {size_line[:50]!r}") from None
        if size == 0:
            while answer.until(b"\r\n"):  # trailers, up to the empty line
                pass
            return b"".join(parts)
        parts.append(answer.exactly(size))
        if answer.exactly(2) != b"\r\n":
            raise http.client.HTTPException("chunk not followed by CRLF")
