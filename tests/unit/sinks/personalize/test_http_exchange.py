"""The lean sender's own HTTP/1.1 exchange (keepalive_http._exchange) over a socket pair: the
request goes out as written, and each framing of an answer is read to its end, no further."""

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from sinks.personalize.keepalive_http import Answer, _exchange

REQUEST = b"POST /events HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    client.settimeout(5)
    yield client, server
    client.close()
    server.close()


def answer(server: socket.socket, *parts: bytes, close: bool = False) -> threading.Thread:
    """Read the request, then send `parts` one by one (split reads on the client's side)."""

    def serve() -> None:
        received = b""
        while len(received) < len(REQUEST):
            received += server.recv(65536)
        assert received == REQUEST
        for part in parts:
            server.sendall(part)
        if close:
            server.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_content_length_answer_in_pieces(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    served = answer(
        server,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
        b'x-amzn-RequestId: r-1\r\nContent-Length: 12\r\n\r\n{"a":',
        b" 12345}",
    )
    status, headers, body, close = _exchange(client, REQUEST)
    served.join()
    assert (status, body, close) == (200, b'{"a": 12345}', False)
    assert ("x-amzn-RequestId", "r-1") in headers


def test_chunked_answer_with_trailers(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    served = answer(
        server,
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n",
        b'4;ext=1\r\n{"a"\r\n',
        b"3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    status, _, body, close = _exchange(client, REQUEST)
    served.join()
    assert (status, body, close) == (400, b'{"a": 1}', False)


def test_informational_answers_are_skipped_and_folded_headers_joined(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    served = answer(
        server,
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 503 Slow Down\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
    )
    status, headers, body, _ = _exchange(client, REQUEST)
    served.join()
    assert (status, body) == (503, b"")
    assert ("X-Long", "a b") in headers


@pytest.mark.parametrize(
    ("head", "must_close"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", False),
    ],
)
def test_when_the_connection_must_close(
    pair: tuple[socket.socket, socket.socket], head: bytes, must_close: bool
) -> None:
    client, server = pair
    served = answer(server, head)
    assert _exchange(client, REQUEST)[3] is must_close
    served.join()


def test_an_answer_without_length_ends_at_the_close(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    served = answer(server, b"HTTP/1.1 200 OK\r\n\r\nall ", b"of it", close=True)
    status, _, body, close = _exchange(client, REQUEST)
    served.join()
    assert (status, body, close) == (200, b"all of it", True)


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed without an answer
        b"HTTP/1.1 200 OK\r\nContent-Len",  # closed inside the head
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # closed inside the body
        b"SSH-2.0-OpenSSH\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_a_broken_answer_is_an_http_error(
    pair: tuple[socket.socket, socket.socket], reply: bytes
) -> None:
    client, server = pair
    served = answer(server, reply, close=True)
    with pytest.raises(http.client.HTTPException):
        _exchange(client, REQUEST)
    served.join()


def test_an_answers_headers_read_as_botocores() -> None:
    """The delivered path's plain headers are what dict(AWSResponse.headers) would give, and
    the error path still reads them case-blind."""
    from botocore.awsrequest import AWSResponse

    listed = [("x-amzn-RequestId", "r-1"), ("Content-Type", "a"), ("content-type", "b")]
    answer = Answer("http://h/events", 200, listed, b"{}")
    botocores = AWSResponse("http://h/events", 200, listed, None)
    assert answer.plain_headers() == dict(botocores.headers)
    assert answer.headers["X-AMZN-REQUESTID"] == "r-1"
    assert answer.content == b"{}" and answer.status_code == 200
