"""Amplitude payloads from tests/fixtures/amplitude/, as their senders write them.

`with_ids` swaps ids by replacing their quoted text in the bytes, so a test can use unique users
while the rest of the payload stays exactly as the sender writes it.
"""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "amplitude"

WEBHOOK_USER = "docs-user-1"
WEBHOOK_INSERT_ID = "5f0adeff-6668-4427-8d02-57d803a2b841"
WEBHOOK_EVENT_TIME_MS = 1646078821795  # its event_time, "2022-02-28 20:07:01.795" UTC
V2_USER = "docs-user-5"


def webhook_default_payload() -> bytes:
    """One Event Streaming webhook POST body: one event in the Export format."""
    return (FIXTURES / "webhook_default_payload.json").read_bytes().strip()


def export_rows() -> list[bytes]:
    """Export API rows, one event each, as the lines of an Export file."""
    text = (FIXTURES / "export_rows.ndjson").read_bytes()
    return [line for line in text.splitlines() if line.strip()]


def http_v2_body() -> bytes:
    """An HTTP V2 body as Amplitude's Python SDK writes it."""
    return (FIXTURES / "http_v2_body.json").read_bytes().strip()


def with_ids(payload: bytes, replacements: dict[str, str]) -> bytes:
    """`payload` with each quoted old id replaced by the new one: {"docs-user-1": "u-42"}."""
    for old, new in replacements.items():
        quoted = f'"{old}"'.encode()
        assert quoted in payload, f"{old!r} is not in the payload"
        payload = payload.replace(quoted, f'"{new}"'.encode())
    return payload
