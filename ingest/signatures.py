"""The webhook's HMAC mode: a signature over a timestamp and the body, fresh and used once.

A sender that can sign (our own replays, an SDK proxy) sends
`X-Signature-Timestamp: <unix seconds>` and
`X-Signature-SHA256: sha256=<hex HMAC-SHA256(key, "<timestamp>." + raw body)>`.
Amplitude's destination cannot: its custom headers are static, so it cannot put a fresh
timestamp in each request; it authenticates with the shared secret instead.

A request whose timestamp is outside the tolerance window is refused, so a captured request
stops working after at most that long; inside the window, a signature already accepted is
refused too (a bounded memory of recent signatures, per process).
"""

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The header value a sender puts in the signature header (hex, with `sha256=`)."""
    return "sha256=" + _digest(key, str(timestamp).encode(), body).hex()


def _digest(key: bytes, timestamp: bytes, body: bytes) -> bytes:
    mac = hmac.new(key, timestamp, hashlib.sha256)
    mac.update(b".")
    mac.update(body)
    return mac.digest()


class SignatureChecker:
    """Verifies signed requests; remembers accepted signatures until their timestamp expires.

    `check` reserves the signature it accepts (so a concurrent copy is refused too); the
    caller `release`s it when the request was not written, so that the sender's retry of a
    request that failed (503) is not taken for a replay.
    """

    def __init__(
        self,
        key: bytes,
        tolerance_seconds: float,
        memory: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._tolerance = tolerance_seconds
        self._memory = memory
        self._clock = clock
        # signature -> when its timestamp leaves the window; in arrival order.
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def check(self, timestamp: str, signature: str, body: bytes) -> tuple[str | None, bytes]:
        """(None, signature) when the request may proceed, else (why not, b"")."""
        timestamp = timestamp.strip()
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            return "missing or malformed timestamp", b""
        now = self._clock()
        if abs(now - int(timestamp)) > self._tolerance:
            return f"timestamp outside the {self._tolerance:g} s tolerance", b""
        presented = signature.strip().lower().removeprefix("sha256=")
        expected = _digest(self._key, timestamp.encode(), body)
        if not hmac.compare_digest(
            presented.encode("utf-8", "surrogateescape"), expected.hex().encode()
        ):
            return "missing or wrong signature", b""
        self._forget_expired(now)
        if expected in self._seen:
            return "signature already used (a replay)", b""
        self._seen[expected] = int(timestamp) + self._tolerance
        while len(self._seen) > self._memory:
            # Full: the oldest goes (a replay of it inside its window would pass; size
            # INGEST_HMAC_REPLAY_MEMORY above the signed requests a window brings).
            self._seen.popitem(last=False)
        return None, expected

    def release(self, signature: bytes) -> None:
        """The request was not written: its sender may send the same signature again."""
        self._seen.pop(signature, None)

    def _forget_expired(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest, expires = next(iter(seen.items()))
            if expires >= now:
                break
            del seen[oldest]

    def __len__(self) -> int:
        return len(self._seen)
