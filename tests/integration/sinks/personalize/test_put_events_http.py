"""The lean PutEvents sender against boto3: the same body, the same errors, over HTTP."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

from devtools.kafka_broker import free_port
from sinks.personalize.put_events_http import LeanPutEvents, put_events_body
from sinks.personalize.rate_limit import RateLimiter
from tests.fixtures.personalize_fixture import RunningEmulator
from tests.fixtures.sink_helpers import client_settings

# Whole seconds, micro- and milliseconds: botocore writes each differently (int or float).
REQUESTS: list[dict[str, Any]] = [
    {
        "trackingId": "t1",
        "userId": "u1",
        "sessionId": "s1",
        "eventList": [
            {
                "eventId": "e1",
                "eventType": "click",
                "eventValue": 2.5,
                "itemId": "i1",
                "sentAt": datetime(2024, 1, 1, tzinfo=UTC),
            },
            {
                "eventId": "e2",
                "eventType": "impression",
                "eventValue": -0.25,
                "itemId": "i2",
                "sentAt": datetime.fromtimestamp(1_700_000_000.123, UTC),
                "impression": ["i3", "i4"],
                "recommendationId": "r1",
                "properties": '{"a": 1}',
            },
        ],
    },
    {  # anonymous: no userId
        "trackingId": "t1",
        "sessionId": "s2",
        "eventList": [
            {"eventType": "view", "sentAt": datetime.fromtimestamp(1_700_000_000.000_001, UTC)}
        ],
    },
]


def _client(url: str, attempts: int = 2, proxies: dict[str, str] | None = None) -> Any:
    import boto3

    return boto3.client(
        "personalize-events",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts}, proxies=proxies
        ),
    )


def _lean(url: str, attempts: int = 2) -> LeanPutEvents:
    return LeanPutEvents(
        _client(url, attempts), Credentials("test", "test"), RateLimiter(1000.0), attempts
    )


@pytest.mark.parametrize("request_", REQUESTS)
def test_body_is_what_botocore_serializes(request_: dict[str, Any]) -> None:
    client = _client("http://127.0.0.1:1")
    operation = client.meta.service_model.operation_model("PutEvents")
    botocore_body = client._serializer.serialize_to_request(request_, operation)["body"]
    assert orjson.loads(put_events_body(request_)) == orjson.loads(botocore_body)


@pytest.mark.parametrize("request_", REQUESTS)
def test_emulator_receives_the_same_request(
    personalize_emulator: RunningEmulator, request_: dict[str, Any]
) -> None:
    _client(personalize_emulator.url).put_events(**request_)
    response = _lean(personalize_emulator.url).put_events(**request_)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    by_boto3, by_lean = personalize_emulator.put_events()
    assert by_lean == by_boto3


def _error(send: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        send()
    return {
        "class": type(caught.value).__name__,
        "code": caught.value.response["Error"]["Code"],
        "message": caught.value.response["Error"]["Message"],
        "status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
        "retries": caught.value.response["ResponseMetadata"]["RetryAttempts"],
        "error_type": caught.value.response["ResponseMetadata"]["HTTPHeaders"].get(
            "x-amzn-errortype"
        ),
    }


def test_errors_are_boto3s(personalize_emulator: RunningEmulator) -> None:
    """Throttling and 503 retried then raised, an unknown tracker and invalid input not retried:
    the same exception class, code, message, status and retry count as boto3."""
    boto3_client, lean = _client(personalize_emulator.url), _lean(personalize_emulator.url)
    request = REQUESTS[1]
    invalid = {**request, "eventList": [{**request["eventList"][0], "itemId": "x" * 300}]}
    for faults, sent, code in (
        ({"throttle_rate": 1.0}, request, "ThrottlingException"),
        ({"throttle_rate": 0.0, "error_rate": 1.0}, request, "ServiceUnavailable"),
        ({"error_rate": 0.0, "unknown_tracker": True}, request, "ResourceNotFoundException"),
        ({"unknown_tracker": False}, invalid, "InvalidInputException"),
    ):
        personalize_emulator.set_faults(**faults)
        expected = _error(lambda: boto3_client.put_events(**sent))  # noqa: B023
        assert expected["code"] == code
        assert _error(lambda: lean.put_events(**sent)) == expected  # noqa: B023
    stats = personalize_emulator.stats()
    # Each sender: 2 attempts throttled, 2 refused with 503, 1 unknown tracker, 1 invalid.
    assert (stats["throttled"], stats["server_errors"], stats["resource_not_found"]) == (4, 4, 2)
    assert stats["invalid"] == 2


@pytest.mark.parametrize("choice", ["lean", "boto3"])
def test_each_retry_takes_a_token_the_first_attempt_is_the_callers(
    personalize_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    from sinks.personalize.client import build_client

    tokens = []

    class CountingLimiter(RateLimiter):
        def acquire(self) -> float:
            tokens.append(1)
            return 0.0

    settings = client_settings(
        monkeypatch,
        personalize_emulator.url,
        sink_put_events_client=choice,
        sink_max_attempts=3,
    )
    sender = build_client(settings, CountingLimiter(1.0))
    personalize_emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(ClientError):
        sender.put_events(**REQUESTS[1])
    assert personalize_emulator.stats()["throttled"] == 3
    assert len(tokens) == 2  # 3 attempts: the 2 retries took a token here
    personalize_emulator.set_faults(throttle_rate=0.0)
    assert sender.put_events(**REQUESTS[1])["ResponseMetadata"]["RetryAttempts"] == 0
    assert len(tokens) == 2  # the sink's poll thread takes the first attempt's token


def test_connection_refused_is_botocores_error_after_retries() -> None:
    lean = _lean(f"http://127.0.0.1:{free_port()}", attempts=2)
    with pytest.raises(EndpointConnectionError):
        lean.put_events(**REQUESTS[1])


@pytest.mark.parametrize("choice", ["lean", "boto3"])
def test_setting_chooses_the_client_and_both_deliver(
    personalize_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    from sinks.personalize.client import build_client

    settings = client_settings(monkeypatch, personalize_emulator.url, sink_put_events_client=choice)
    sender = build_client(settings, RateLimiter(1000.0))
    assert isinstance(sender, LeanPutEvents) == (choice == "lean")
    sender.put_events(**REQUESTS[0])
    assert len(personalize_emulator.put_events()) == 1


@pytest.mark.parametrize("where", ["config", "environment"])
def test_through_a_proxy_botocores_session_sends_it(
    personalize_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The keep-alive connections go straight to the endpoint; a proxy (the client's config,
    else HTTP_PROXY) is honoured by handing the request to botocore's URLLib3Session."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    forwarded: list[str] = []

    class Proxy(BaseHTTPRequestHandler):  # a plain-HTTP forward proxy: absolute-URI requests
        def do_POST(self) -> None:
            target = urlsplit(self.path)
            forwarded.append(target.path)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = http.client.HTTPConnection(target.hostname, target.port)
            upstream.request("POST", target.path, body, dict(self.headers.items()))
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "connection", "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *_: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        _lean(personalize_emulator.url).put_events(**REQUESTS[1])  # no proxy anywhere
        if where == "environment":
            monkeypatch.setenv("HTTP_PROXY", proxy_url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
        client = _client(
            personalize_emulator.url, proxies={"http": proxy_url} if where == "config" else None
        )
        proxied = LeanPutEvents(client, Credentials("test", "test"), RateLimiter(1000.0), 2)
        proxied.put_events(**REQUESTS[0])
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert forwarded == ["/events"]  # the proxied call, and only it
    assert len(personalize_emulator.put_events()) == 2
