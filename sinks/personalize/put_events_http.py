"""A lean PutEvents sender built from botocore's pieces, skipping its per-call machinery.

boto3's `put_events` spends most of its CPU per call (bench/README.md, "Sink") in request creation
and its event hooks (user-agent rebuild, endpoint rules, handlers), not in the work itself. This
sender does only the work, each part by botocore: the body is the restJson document botocore would
send (orjson; `sentAt` as epoch seconds, botocore's default precision), SigV4-signed (sigv4.py) with
boto3's credential chain (refreshed as botocore does), sent over a keep-alive connection per thread
(keepalive_http.py; through a proxy, by botocore's `URLLib3Session`), errors parsed by botocore's
rest-json parser and raised as the client's own `ClientError` classes, so `classify`
(core/aws_errors.py) judges them unchanged. Signing is SigV4 as `SigV4Auth` computes it,
without its request objects (sigv4.py).

Retries are botocore's 'standard' mode pieces (`RetryPolicy` of `StandardRetryConditions` +
`ExponentialBackoff`, and the `RetryQuotaChecker`), driven by a small loop here; every retry
takes a rate-limiter token first (the caller took the first attempt's, rate_limit.py).
`SINK_PUT_EVENTS_CLIENT=boto3` uses boto3 instead.
"""

import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import botocore
import orjson
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ConnectionError, HTTPClientError
from botocore.httpsession import ProxyConfiguration, URLLib3Session
from botocore.parsers import create_parser
from botocore.retries import quota, standard
from botocore.utils import get_environ_proxies

from sinks.personalize.keepalive_http import Answer, KeepAliveHTTP
from sinks.personalize.rate_limit import RateLimiter
from sinks.personalize.sigv4 import PostSigner

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_random = random.Random()  # seeded from os.urandom once


def epoch_seconds(value: Any) -> int | float:
    """A `sentAt` datetime as botocore's rest-json serializer writes it: whole seconds as an
    int, else (seconds * 10**6 + microseconds) / 10**6, rounded once."""
    if not isinstance(value, datetime):
        raise TypeError(f"cannot serialize {type(value).__name__}")
    micros = (value - _EPOCH) // _MICROSECOND
    return micros // 10**6 if micros % 10**6 == 0 else micros / 10**6


def put_events_body(request: dict[str, Any]) -> bytes:
    """The restJson body of PutEvents: every member of the request is a body member."""
    return orjson.dumps(request, default=epoch_seconds, option=orjson.OPT_PASSTHROUGH_DATETIME)


class LeanPutEvents:
    """`put_events(**request)` with boto3's results and errors, at a fraction of its CPU.

    Thread-safe like a botocore client: the connection pool, the credentials and the retry
    quota are shared; each call builds its own request.
    """

    def __init__(
        self,
        client: Any,
        credentials: Credentials,
        limiter: RateLimiter,
        max_attempts: int,
        ca_bundle: str | None = None,
    ) -> None:
        """`ca_bundle`: what boto3 verifies TLS against (AWS_CA_BUNDLE, the profile's
        ca_bundle); None: botocore's own bundle."""
        meta = client.meta
        self._client = client  # for its exception classes (`client.exceptions.from_code`)
        self._operation = meta.service_model.operation_model("PutEvents")
        self._url = meta.endpoint_url.rstrip("/") + "/events"
        self._path = urlsplit(self._url).path
        self._signer = PostSigner(self._url, meta.region_name, meta.service_model.signing_name)
        self._credentials = credentials
        self._limiter = limiter
        config = meta.config
        # Proxies as botocore's endpoint finds them: the client's config, else the environment.
        proxies = config.proxies or get_environ_proxies(self._url)
        # Straight to the endpoint, the standard library's http.client, a connection per thread
        # (cheaper per call than urllib3: bench/README.md); through a proxy, botocore's session.
        self._http: KeepAliveHTTP | URLLib3Session
        if ProxyConfiguration(proxies).proxy_url_for(self._url):
            self._http = URLLib3Session(
                verify=ca_bundle or True,
                proxies=proxies,
                timeout=(config.connect_timeout, config.read_timeout),
                max_pool_connections=config.max_pool_connections,
                # botocore's own socket options (botocore/args.py): without TCP_NODELAY, Nagle
                # and delayed ACKs hold each response ~40 ms.
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                proxies_config=config.proxies_config,
            )
        else:
            self._http = KeepAliveHTTP(
                self._url, config.connect_timeout, config.read_timeout, ca_bundle
            )
        self._parser = create_parser(meta.service_model.metadata["protocol"])
        self._max_attempts = max_attempts
        service = meta.service_model.service_id.hyphenize()
        throttling = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
        self._retry = standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(
                service_name=service, throttling_detector=throttling
            ),
        )
        self._quota = standard.RetryQuotaChecker(quota.RetryQuota(), throttling)
        # Built once: botocore rebuilds it on every call (~4-10% of its CPU here).
        self._user_agent = f"Botocore/{botocore.__version__} md/sinks-lean-put-events"

    def put_events(self, **request: Any) -> dict[str, Any]:
        body = put_events_body(request)
        # A random (version 4) UUID as botocore's, from Python's generator: uuid4() reads
        # os.urandom, a system call that also hands the GIL to another thread, on every call.
        invocation = str(uuid.UUID(int=_random.getrandbits(128), version=4))
        request_context: dict[str, Any] = {}
        attempt = 1
        while True:
            if attempt > 1:  # AWS counts attempts; the caller took the first one's token
                self._limiter.acquire()
            http_response = None
            parsed: dict[str, Any] | None = None
            try:
                http_response = self._send(body, invocation, attempt)
            except (ConnectionError, HTTPClientError) as exc:
                context = standard.RetryContext(
                    attempt, self._operation, caught_exception=exc, request_context=request_context
                )
                if not self._should_retry(context):
                    raise
            else:
                status = http_response.status_code
                if 200 <= status < 300:
                    self._quota.release_retry_quota(request_context, http_response)
                    if isinstance(http_response, Answer):  # its headers never made case-blind
                        headers = http_response.plain_headers()
                        request_id = next(
                            (v for k, v in headers.items() if k.lower() == "x-amzn-requestid"), ""
                        )
                    else:
                        headers = dict(http_response.headers)
                        request_id = http_response.headers.get("x-amzn-requestid", "")
                    return {
                        "ResponseMetadata": {
                            "RequestId": request_id,
                            "HTTPStatusCode": status,
                            "HTTPHeaders": headers,
                            "RetryAttempts": attempt - 1,
                        }
                    }
                parsed = self._parser.parse(
                    convert_to_response_dict(http_response, self._operation),
                    self._operation.output_shape,
                )
                context = standard.RetryContext(
                    attempt,
                    self._operation,
                    parsed_response=parsed,
                    http_response=http_response,
                    request_context=request_context,
                )
                if not self._should_retry(context):
                    parsed["ResponseMetadata"]["RetryAttempts"] = attempt - 1
                    if context.get_retry_metadata().get("MaxAttemptsReached"):
                        parsed["ResponseMetadata"]["MaxAttemptsReached"] = True
                    code = parsed.get("Error", {}).get("Code")
                    raise self._client.exceptions.from_code(code)(parsed, "PutEvents")
            time.sleep(self._retry.compute_retry_delay(context))  # in the pool thread, as botocore
            attempt += 1

    def _should_retry(self, context: standard.RetryContext) -> bool:
        return self._retry.should_retry(context) and self._quota.acquire_retry_quota(context)

    def _send(self, body: bytes, invocation: str, attempt: int) -> Any:
        """POST the body with the headers botocore sends, SigV4-signed with the current
        credentials (a proxied POST goes through botocore's session as a prepared request)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            "amz-sdk-invocation-id": invocation,
            "amz-sdk-request": f"attempt={attempt}; max={self._max_attempts}",
        }
        # get_frozen_credentials refreshes expiring credentials (under botocore's own lock).
        signed = self._signer.sign(body, headers, self._credentials.get_frozen_credentials())
        if isinstance(self._http, KeepAliveHTTP):
            return self._http.post(self._path, body, signed)
        request = AWSRequest(method="POST", url=self._url, data=body, headers=signed)
        return self._http.send(request.prepare())
