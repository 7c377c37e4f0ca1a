"""A catalogue file's rows as item records: mapped by the rules' [items], bad rows named."""

from pathlib import Path

from backfill.catalogue import DEFAULT_ID_COLUMNS, BadRow, item_record, rows
from schemas import load_rules

ITEMS = load_rules().items  # CATEGORY from category, CREATION_TIMESTAMP from created_at


def records(path: Path) -> tuple[list[tuple[str, dict[str, object]]], list[BadRow]]:
    good, bad = [], []
    for line, row, problem in rows(path):
        record = None
        if row is not None:
            record, problem = item_record(row, ITEMS, DEFAULT_ID_COLUMNS, 5)
        if record is None:
            bad.append(BadRow(line, problem or ""))
        else:
            assert record.updated_at_ms == 5
            good.append((record.item_id, record.fields))
    return good, bad


def test_csv_rows_and_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text(
        "item_id,category,created_at,title\n"
        "i1,news,1700000000000,a title\n"
        ",news,1700000000,no id\n"
        'i3,"sport|news",2023-11-14 22:13:20,quoted\n'
        "i4,news,next tuesday,bad time\n"
        "i5,,,nothing mapped\n"
        "i6,news,1700000000,too,many\n"
        f"i7,{'x' * 1001},,long\n"
        "i8,music,,\n"
    )
    good, bad = records(path)
    assert good == [
        ("i1", {"CATEGORY": "news", "CREATION_TIMESTAMP": 1700000000}),
        ("i3", {"CATEGORY": "sport|news", "CREATION_TIMESTAMP": 1700000000}),
        ("i8", {"CATEGORY": "music"}),
    ]
    assert bad == [
        BadRow(3, "no item id (columns item_id, itemId, content_id)"),
        BadRow(5, "CREATION_TIMESTAMP (column created_at): out_of_range"),
        BadRow(6, "no [items] field has a value"),
        BadRow(7, "more cells than the header has columns"),
        BadRow(8, "CATEGORY (column category): too_long"),
    ]


def test_ndjson_rows(tmp_path: Path) -> None:
    path = tmp_path / "items.ndjson"
    path.write_text(
        '{"content_id": 12, "category": "news"}\n'
        "\n"
        '{"item_id": "i2", "category": {"a": 1}}\n'
        "[1, 2]\n"
        '{"item_id": "i4", "category": "x"\n'
        '{"itemId": "i5", "category": "film", "created_at": "2023-11-14T22:13:20Z"}\n'
    )
    good, bad = records(path)
    assert good == [
        ("12", {"CATEGORY": "news"}),
        ("i5", {"CATEGORY": "film", "CREATION_TIMESTAMP": 1700000000}),
    ]
    assert bad == [
        BadRow(3, "CATEGORY (column category): wrong_type"),
        BadRow(4, "not a JSON object"),
        BadRow(5, "malformed JSON"),
    ]
