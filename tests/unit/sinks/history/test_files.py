"""History files: rolled by size and age per partition, named by first offset, CSV rows."""

from schemas import Interaction, InteractionRecord, decode_interaction
from sinks.history.csv_rows import header_line, row
from sinks.history.files import HistoryFiles


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def interaction(**fields: object) -> Interaction:
    values: dict[str, object] = {
        "event_id": "e",
        "user_id": "u1",
        "session_id": "s",
        "item_id": "i1",
        "event_type": "upvote",
        "personalize_event_type": "endorse",
        "weight": 2.0,
        "timestamp_ms": 1700000001999,
    }
    values.update(fields)
    return Interaction.model_validate(values)


def test_csv_row_in_bulk_import_format() -> None:
    assert header_line() == (
        b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION,RECOMMENDATION_ID\n"
    )
    assert row(interaction()) == b"u1,i1,1700000001,endorse,2.0,,\n"
    shown = interaction(impression=["a", "b,c"], recommendation_id="RID-1", weight=-2.5)
    assert row(shown) == b'u1,i1,1700000001,endorse,-2.5,"a|b,c",RID-1\n'
    assert row(interaction(user_id=None, device_id="d9")).startswith(b"device:d9,")
    assert row(interaction(user_id=None)).startswith(b"device:s,")  # neither: the session


def test_the_sinks_decoded_record_makes_the_same_row() -> None:
    """The sink decodes with the msgspec twin (schemas.decode_interaction): same rows."""
    for contract in (interaction(), interaction(user_id=None, device_id="d9", weight=-1)):
        decoded = decode_interaction(contract.model_dump_json().encode())
        assert isinstance(decoded, InteractionRecord)
        assert row(decoded) == row(contract)


def test_roll_by_size_per_partition() -> None:
    files = HistoryFiles("t", roll_bytes=len(header_line()) + 20, roll_seconds=60, clock=Clock())
    assert files.add(0, 10, b"0123456789\n") is None
    assert files.add(1, 5, b"x\n") is None
    full = files.add(0, 11, b"0123456789\n")
    assert full is not None
    assert (full.partition, full.first_offset, full.last_offset, full.rows) == (0, 10, 11, 2)
    assert full.name == "t-p000-00000000000000000010.csv"
    assert full.data == header_line() + b"0123456789\n" * 2
    assert [f.partition for f in files.drain()] == [1]


def test_roll_by_age_of_the_first_row() -> None:
    clock = Clock()
    files = HistoryFiles("t", roll_bytes=10**6, roll_seconds=5, clock=clock)
    files.add(0, 0, b"a\n")
    clock.now = 3
    files.add(1, 0, b"b\n")
    clock.now = 5
    assert [f.partition for f in files.due()] == [0]
    clock.now = 8
    assert [f.partition for f in files.due()] == [1]
    assert files.due() == []


def test_records_without_rows_still_move_the_offsets() -> None:
    files = HistoryFiles("t", roll_bytes=10**6, roll_seconds=5, clock=Clock())
    files.add(2, 7, None)
    files.add(2, 8, b"r\n")
    files.add(2, 9, None)
    (done,) = files.drain([2, 3])
    assert (done.first_offset, done.last_offset, done.rows) == (7, 9, 1)
