"""The lean signer against botocore's SigV4Auth: the same headers, the same signature."""

import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from sinks.personalize.sigv4 import PostSigner

NOW = datetime.datetime(2026, 12, 2, 12, 34, 56, tzinfo=datetime.UTC)
HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "Botocore/1 md/test",
    "amz-sdk-invocation-id": "2b1c8e0e-0000-4000-8000-000000000000",
    "amz-sdk-request": "attempt=1;  max=3",  # botocore trims runs of spaces in signed values
}


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://127.0.0.1:8001/events", None),
        ("https://personalize-events.us-east-1.amazonaws.com/events", None),
        ("https://personalize-events.us-east-1.amazonaws.com:443/events", "session-token"),
        ("http://[::1]:9000/prefix/events", None),
    ],
)
def test_signs_as_botocore_does(
    url: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = ReadOnlyCredentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token
    )
    body = b'{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"view","sentAt":1}]}'
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW)
    expected = AWSRequest(method="POST", url=url, data=body, headers=dict(HEADERS))
    SigV4Auth(credentials, "personalize", "us-east-1").add_auth(expected)

    rotated = ReadOnlyCredentials("AKIDEXAMPLE", "a rotated secret", token)
    # A key kept from before: today's with another secret, or yesterday's with this one.
    for earlier, day in ((rotated, "20261202"), (credentials, "20261201")):
        signer = PostSigner(url, "us-east-1", "personalize")
        signer.sign(body, HEADERS, earlier, amz_date=f"{day}T235959Z")
        for _ in range(2):  # derived for this secret and day, then from the cache
            signed = signer.sign(body, HEADERS, credentials, amz_date="20261202T123456Z")
            assert signed == dict(expected.headers.items())
