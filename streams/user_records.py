"""Is a raw record that the weigher refused Amplitude's user record (Send Users)?

The rule is `schemas.check_user_record`; this decodes only the four fields it reads. Called
only for records the weigher refused as schema_invalid, so events pay nothing for it.
"""

from typing import Any

import msgspec

from schemas import check_user_record


class _Head(msgspec.Struct):
    event_type: Any = None
    user_id: Any = None
    device_id: Any = None
    user_properties: Any = None


_decode = msgspec.json.Decoder(_Head).decode


def is_user_record(raw: bytes) -> bool:
    try:
        head = _decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return False
    actor, _ = check_user_record(
        head.event_type, head.user_id, head.device_id, head.user_properties
    )
    return actor is not None
