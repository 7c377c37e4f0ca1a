"""How large a Kafka record is, and a dead letter cut down to fit: one rule for every stage.

Kafka refuses a record whose batch exceeds the broker's `message.max.bytes` (librdkafka checks
its own `message.max.bytes` before sending, against key + value + headers + the record's
framing). A record that cannot be written must not stop a stage, so every stage sizes its
outputs with `record_size` before producing them, and dead-letters (cut down with
`fit_dead_letter`) what does not fit.
"""

from collections.abc import Sequence

Headers = Sequence[tuple[str, bytes]]

# A v2 record's framing (length, attributes, timestamp and offset deltas, key and value
# lengths, header count: varints of up to 5-10 bytes) plus its batch's 61-byte header,
# rounded up; each header adds its own two length varints.
RECORD_OVERHEAD_BYTES = 128
HEADER_OVERHEAD_BYTES = 10
# What a truncated dead letter keeps at most of the original value: enough to investigate.
DEAD_LETTER_SAMPLE_BYTES = 64 * 1024


def record_size(key: bytes | None, value: bytes | None, headers: Headers = ()) -> int:
    """An upper bound of the bytes Kafka counts for this record against message.max.bytes."""
    size = RECORD_OVERHEAD_BYTES + len(key or b"") + len(value or b"")
    for name, header in headers:
        size += HEADER_OVERHEAD_BYTES + len(name) + len(header)
    return size


def fit_dead_letter(
    key: bytes | None, value: bytes | None, headers: Headers, max_bytes: int
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of a dead letter that fits in `max_bytes`.

    Unchanged when it fits. Otherwise header values are cut to 1,000 bytes, the key is dropped
    if it alone is too large (a dead letter needs no partitioning), and the value keeps its
    first bytes (at most DEAD_LETTER_SAMPLE_BYTES) with a `truncated_from_bytes` header.
    """
    fitted = list(headers)
    if record_size(key, value, fitted) <= max_bytes:
        return key, value, fitted
    fitted = [(name[:100], header[:1000]) for name, header in fitted]
    if key is not None and len(key) > max_bytes // 4:
        fitted.append(("key_dropped_bytes", str(len(key)).encode()))
        key = None
    original = len(value or b"")
    fitted.append(("truncated_from_bytes", str(original).encode()))
    room = max_bytes - record_size(key, b"", fitted)
    value = (value or b"")[: max(0, min(room, DEAD_LETTER_SAMPLE_BYTES))]
    return key, value, fitted
