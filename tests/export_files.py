"""Build Amplitude Export API files for tests: a zip of gzipped NDJSON, as Amplitude ships them."""

import gzip
import zipfile
from pathlib import Path
from typing import Any

import orjson


def export_row(user: str, n: int, event_type: str = "click") -> dict[str, Any]:
    """One event as the Export API writes it ($insert_id, event_time as a UTC string)."""
    return {
        "$insert_id": f"{user}-hist-{n}",
        "event_type": event_type,
        "user_id": user,
        "session_id": 1690000000000,
        "event_time": f"2023-07-22 04:26:{n % 60:02d}.000000",
        "event_properties": {"item_id": f"hist-item-{n}"},
        "amplitude_id": 123,
        "$schema": 12,
    }


def write_export_zip(path: Path, hours: list[list[bytes]]) -> Path:
    """One gzipped NDJSON member per hour, named like Amplitude's."""
    with zipfile.ZipFile(path, "w") as archive:
        for hour, lines in enumerate(hours):
            member = f"123/123_2023-07-22_{hour}#0.json.gz"
            archive.writestr(member, gzip.compress(b"\n".join(lines) + b"\n"))
    return path


def ndjson(rows: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(row) for row in rows]
