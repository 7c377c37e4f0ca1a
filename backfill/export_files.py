"""Read events from Amplitude Export API files or NDJSON, one raw line at a time.

The Export API answers with a zip of gzipped NDJSON files (one event a line, several files an
hour). Also accepted: a single `.json.gz`/`.gz` file, and plain NDJSON.
"""

import gzip
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Line:
    source: str  # file (and zip member) the line came from
    number: int  # 1-based line number within that source
    data: bytes


def read_lines(path: Path) -> Iterator[Line]:
    """Every non-blank line of a file, opening zips and gzip members as Amplitude ships them."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith("/"):
                    continue
                with archive.open(member) as raw:
                    stream = gzip.open(raw) if member.endswith(".gz") else raw
                    yield from _lines(f"{path}!{member}", stream)
    elif path.suffix == ".gz":
        with gzip.open(path) as stream:
            yield from _lines(str(path), stream)
    else:
        with open(path, "rb") as stream:
            yield from _lines(str(path), stream)


def _lines(source: str, stream: io.BufferedIOBase | gzip.GzipFile | io.RawIOBase) -> Iterator[Line]:
    for number, line in enumerate(stream, start=1):  # type: ignore[arg-type]
        stripped = line.strip()
        if stripped:
            yield Line(source, number, stripped)
