"""Reading Export API files, one raw line at a time (schemas/amplitude.py maps their fields)."""

import gzip
from pathlib import Path

from backfill.export_files import read_lines
from tests.fixtures.export_files import export_row, ndjson, write_export_zip


def test_zip_of_gzipped_ndjson(tmp_path: Path) -> None:
    path = write_export_zip(
        tmp_path / "export.zip",
        [ndjson([export_row("u", 0), export_row("u", 1)]), [b"", b"{broken"]],
    )
    lines = list(read_lines(path))
    assert [(line.number, line.data[:1]) for line in lines] == [(1, b"{"), (2, b"{"), (2, b"{")]
    assert lines[0].source.endswith("export.zip!123/123_2023-07-22_0#0.json.gz")
    assert lines[2].data == b"{broken"


def test_gzip_and_plain_ndjson(tmp_path: Path) -> None:
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(b'{"a": 1}\n\n{"b": 2}\n'))
    (tmp_path / "b.ndjson").write_bytes(b'{"c": 3}\n')
    assert [line.data for line in read_lines(tmp_path / "a.json.gz")] == [b'{"a": 1}', b'{"b": 2}']
    assert [line.data for line in read_lines(tmp_path / "b.ndjson")] == [b'{"c": 3}']
