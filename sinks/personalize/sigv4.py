"""SigV4 signatures for the lean sender's PutEvents POSTs, without botocore's request objects.

botocore's `SigV4Auth.add_auth` spends most of its CPU in its header containers (an
`email.message` underneath) and in deriving the signing key again on every call, not in the
hashing (bench/README.md, "Sink"). This signs the one request shape the lean sender makes - a
POST of a JSON body, no query string - as `SigV4Auth` signs it (botocore/auth.py): every header
but the ones botocore leaves unsigned (user-agent among them), the host as botocore derives it
from the URL, the SHA-256 of the payload (botocore signs it for this operation over http and
https alike), an `X-Amz-Security-Token` when the credentials carry one; the signing key is kept
for its day. tests/unit/sinks/personalize/test_sigv4.py checks it against `SigV4Auth` itself.
"""

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.credentials import ReadOnlyCredentials
from botocore.utils import normalize_url_path

_UNSIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class PostSigner:
    """Signs POSTs to one URL for one region and service; thread-safe (the cached key is
    replaced whole)."""

    def __init__(self, url: str, region: str, service: str) -> None:
        parts = urlsplit(url)
        if parts.query:
            raise ValueError("the lean signer signs no query string")
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal, bracketed as in the URL
            host = f"[{host}]"
        if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
            host = f"{host}:{parts.port}"
        self._host = host
        self._path = quote(normalize_url_path(parts.path), safe="/~")
        self._region, self._service = region, service
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, day, signing key)

    def sign(
        self,
        body: bytes,
        headers: Mapping[str, str],
        credentials: ReadOnlyCredentials,
        amz_date: str | None = None,
    ) -> dict[str, str]:
        """`headers` plus X-Amz-Date, X-Amz-Security-Token (with a session token) and
        Authorization. `amz_date` (YYYYMMDDTHHMMSSZ): now, unless a test fixes it."""
        amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        signed = dict(headers)
        signed["X-Amz-Date"] = amz_date
        if credentials.token:
            signed["X-Amz-Security-Token"] = credentials.token
        canonical: dict[str, str] = {"host": self._host}
        for name, value in signed.items():
            lowered = name.lower()
            if lowered not in _UNSIGNED:
                canonical[lowered] = " ".join(value.split())
        names = sorted(canonical)
        signed_names = ";".join(names)
        request = "\n".join(
            (
                "POST",
                self._path,
                "",
                "".join(f"{name}:{canonical[name]}\n" for name in names),
                signed_names,
                hashlib.sha256(body).hexdigest(),
            )
        )
        day = amz_date[:8]
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(request.encode()).hexdigest(),
            )
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day), to_sign.encode(), "sha256"
        )
        signed["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature.hexdigest()}"
        )
        return signed

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._key
        if cached_secret == secret and cached_day == day:
            return key
        key = f"AWS4{secret}".encode()
        for part in (day, self._region, self._service, "aws4_request"):
            key = hmac.new(key, part.encode(), "sha256").digest()
        self._key = (secret, day, key)
        return key
