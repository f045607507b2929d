"""CSV import: encodings, loose headers, dates, postcodes and phones; re-imports that change
nothing; updates keyed by RefInternal; rejections with line, column and fix; the report."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learnerledger.errors import CsvFileError
from learnerledger.sources.csvfile import COLUMNS, REJECTIONS, import_learners
from learnerledger.store import Store, history, open_store
from learnerledger.store.learners import count_learners, get_learner, iter_learners, learners
from learnerledger.store.tables import runs

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "learners.csv"
TODAY = date(2026, 11, 1)
HEADER = "RefInternal,FirstName,LastName,Email,Mobile,DateOfBirth,StreetAddress,StreetSuburb,"
HEADER += "StreetState,StreetPostcode"


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def row(ref: str, first: str = "Ann", last: str = "Lee", **extra: str) -> str:
    values = {
        "Email": "ann@example.com",
        "Mobile": "0412 345 678",
        "DateOfBirth": "14/08/1996",
        "StreetAddress": "1 George St",
        "StreetSuburb": "Sydney",
        "StreetState": "NSW",
        "StreetPostcode": "2000",
    } | extra
    cells = [ref, first, last] + [values[c] for c in HEADER.split(",")[3:]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def test_the_documented_example_imports_cleanly(store: Store) -> None:
    result = import_learners(store, EXAMPLE, today=TODAY)
    assert result.counts()["rejected"] == 0
    assert result.inserted == 8
    with store.read() as conn:
        counts = count_learners(conn)
        priya = get_learner(conn, "DAU0000123")
        felicity = get_learner(conn, "DAU0000125")
        minh = get_learner(conn, "DAU0000126")
    assert counts.learners == 8
    assert counts.learners_ready == 5
    assert priya is not None
    assert priya.mobile == "+61412000111"
    assert priya.phone_work == "+61298765432"
    assert priya.date_of_birth == date(1996, 8, 14)
    assert priya.postal.line == "PO Box 812"
    assert felicity is not None
    assert felicity.street.postcode == "0800"
    assert minh is not None
    assert (minh.street.state, minh.street.country) == ("QLD", "Australia")


def test_reimporting_the_same_file_changes_nothing(store: Store) -> None:
    import_learners(store, EXAMPLE, today=TODAY)
    with store.read() as conn:
        before = conn.execute(sa.select(learners).order_by(learners.c.id)).all()
    again = import_learners(store, EXAMPLE, today=TODAY)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    with store.read() as conn:
        after = conn.execute(sa.select(learners).order_by(learners.c.id)).all()
    assert after == before


def test_a_changed_row_updates_its_learner(tmp_path: Path, store: Store) -> None:
    first = write(tmp_path, HEADER + "\n" + row("DAU1") + row("DAU2"), name="a.csv")
    import_learners(store, first, today=TODAY)
    changed = HEADER + "\n" + row("DAU1", Email="new@example.com") + row("DAU2")
    result = import_learners(store, write(tmp_path, changed, name="b.csv"), today=TODAY)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    with store.read() as conn:
        learner = get_learner(conn, "DAU1")
    assert learner is not None
    assert learner.email == "new@example.com"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""), ("utf-16", b"")],
)
def test_encodings(tmp_path: Path, store: Store, encoding: str, prefix: bytes) -> None:
    text = HEADER + "\n" + row("DAU1", first="Zoë", last="Müller-Renée")
    path = tmp_path / "in.csv"
    path.write_bytes(prefix + text.encode(encoding))
    result = import_learners(store, path, today=TODAY)
    assert result.inserted == 1
    with store.read() as conn:
        learner = get_learner(conn, "DAU1")
    assert learner is not None
    assert (learner.first_name, learner.last_name) == ("Zoë", "Müller-Renée")


def test_windows_1252_bytes_that_it_leaves_undefined_do_not_stop_the_import(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes((HEADER + "\n").encode() + row("DAU1", first="A\x81B").encode("latin-1"))
    result = import_learners(store, path, today=TODAY)
    assert result.encoding == "cp1252"
    assert result.rows == 1
    assert len(result.rejected) + result.inserted == 1


def test_header_names_match_loosely(tmp_path: Path, store: Store) -> None:
    text = (
        "ref internal;First_Name;LAST NAME;e-mail address;Date of Birth;Street Postcode;"
        "street state;StreetSuburb;streetaddress;Notes\n"
        "DAU1;Ann;Lee;ann@example.com;1996-08-14;2150;nsw;Parramatta;4 Wattle Rd;vip\n"
    )
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    assert result.inserted == 1
    assert result.ignored_columns == ["Notes"]
    with store.read() as conn:
        learner = get_learner(conn, "DAU1")
    assert learner is not None
    assert learner.ready_for_xero() == []
    assert learner.street.state == "NSW"


def test_lines_are_counted_in_the_file_with_the_header_as_line_1(
    tmp_path: Path, store: Store
) -> None:
    text = (
        HEADER
        + "\n"
        + row("DAU1", StreetAddress="Unit 3\n41 Ann St")  # lines 2-3
        + "\n"  # line 4: blank
        + ",,,,,,,,,\n"  # line 5: blank in a spreadsheet's way
        + row("DAU2", DateOfBirth="31/02/1990")  # line 6
    )
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    assert [(r.line, r.problems[0].column) for r in result.rejected] == [(6, "DateOfBirth")]
    assert result.blank_lines == 2
    assert result.rows == 2
    with store.read() as conn:
        learner = get_learner(conn, "DAU1")
    assert learner is not None
    assert learner.street.line == "Unit 3, 41 Ann St"


def test_a_repeated_refinternal_rejects_every_row_that_has_it(tmp_path: Path, store: Store) -> None:
    text = HEADER + "\n" + row("DAU1") + row("DAU2") + row("dau1", first="Other") + row("DAU1")
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    assert result.inserted == 1
    lines = {r.line: r.problems[0].message for r in result.rejected}
    assert set(lines) == {2, 4, 5}
    assert "is also on lines 4, 5" in lines[2]
    assert "is also on lines 2, 5" in lines[4]
    with store.read() as conn:
        assert get_learner(conn, "DAU1") is None


def test_every_bad_value_of_a_row_is_named_with_its_fix(tmp_path: Path, store: Store) -> None:
    text = (
        HEADER
        + ",SyncToXero\n"
        + row("DAU1", StreetState="Sydney", StreetPostcode="21500", DateOfBirth="yesterday")[:-1]
        + ",maybe\n"
    )
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    (rejection,) = result.rejected
    assert [p.column for p in rejection.problems] == [
        "DateOfBirth",
        "StreetState",
        "StreetPostcode",
        "SyncToXero",
    ]
    assert "Write it as dd/mm/yyyy" in rejection.reason
    assert "NSW, VIC" in rejection.reason
    assert "four digits" in rejection.reason
    assert "true or false" in rejection.reason


def test_rows_with_problems_in_their_shape(tmp_path: Path, store: Store) -> None:
    long_ref = "X" * 51
    text = (
        HEADER
        + "\n"
        + row("DAU1")[:-1]
        + ",extra,values\n"  # line 2: more values than columns
        + row("", first="No", last="Ref")  # line 3
        + row(long_ref)  # line 4
        + row("DAU4", first="Nul\x00here")  # line 5
        + row("DAU5", first="A" * 300)  # line 6
        + 'DAU6,"Unclosed,Lee\nDAU7,Ann,Lee\nDAU8,Ann,Lee\n'  # line 7: a quote never closed
    )
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    codes = {r.line: [p.code for p in r.problems] for r in result.rejected}
    assert codes == {
        2: ["too_many_values"],
        3: ["ref_missing"],
        4: ["ref_too_long"],
        5: ["control_character"],
        6: ["too_long"],
        7: ["line_break"],
    }
    assert result.imported == 0
    assert "lines 7-9" in result.rejected[-1].reason


def test_fewer_values_than_columns_are_empty_values(tmp_path: Path, store: Store) -> None:
    result = import_learners(store, write(tmp_path, HEADER + "\nDAU1,Ann,Lee\n"), today=TODAY)
    assert result.inserted == 1


def test_phones_postcodes_and_the_region_setting(tmp_path: Path, store: Store) -> None:
    text = HEADER + "\n" + row("DAU1", Mobile="021 123 4567", StreetPostcode="800")
    text += row("DAU2", Mobile="12 34")
    result = import_learners(store, write(tmp_path, text), region="NZ", today=TODAY)
    with store.read() as conn:
        one, two = get_learner(conn, "DAU1"), get_learner(conn, "DAU2")
    assert one is not None
    assert two is not None
    assert one.mobile == "+64211234567"
    assert one.street.postcode == "0800"
    assert two.mobile == "12 34"
    assert any("kept as typed" in w for w in two.warnings)
    assert {(w.line, w.ref_internal) for w in result.warnings} == {(2, "DAU1"), (3, "DAU2")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\n\nDAU1,Ann,Lee\n", "empty"),
        ("Ref,First,Last\nDAU1,Ann,Lee\n", "no RefInternal or FirstName or LastName column"),
        ("RefInternal,FirstName,LastName,Email,E-mail\n", "names Email twice"),
    ],
)
def test_a_file_that_cannot_be_imported_at_all(
    tmp_path: Path, store: Store, text: str, message: str
) -> None:
    with pytest.raises(CsvFileError, match=message):
        import_learners(store, write(tmp_path, text))


def test_a_missing_file(tmp_path: Path, store: Store) -> None:
    with pytest.raises(CsvFileError, match="no such file"):
        import_learners(store, tmp_path / "nope.csv")


def test_the_report_lists_rejected_rows_and_can_be_imported_once_fixed(
    tmp_path: Path, store: Store
) -> None:
    text = HEADER + "\n" + row("DAU1") + row("DAU2", DateOfBirth="31/02/1990")
    report = tmp_path / "rejected.csv"
    import_learners(store, write(tmp_path, text), report=report, today=TODAY)
    content = report.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 1
    assert rows[0]["RefInternal"] == "DAU2"
    assert rows[0]["Line"] == "3"
    assert rows[0]["Reason"].startswith("DateOfBirth: '31/02/1990' is not a date in the calendar")
    fixed = content.replace("31/02/1990", "28/02/1990")
    again = import_learners(store, write(tmp_path, fixed, name="fixed.csv"), today=TODAY)
    assert (again.inserted, len(again.rejected), again.ignored_columns) == (1, 0, [])


def test_a_dry_run_stores_nothing_and_records_no_run(store: Store) -> None:
    result = import_learners(store, EXAMPLE, dry_run=True, today=TODAY)
    assert result.inserted == 8
    with store.read() as conn:
        assert count_learners(conn).learners == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == 0


def test_each_import_is_recorded_with_its_counts_and_errors(tmp_path: Path, store: Store) -> None:
    text = HEADER + "\n" + row("DAU1") + row("DAU2", StreetState="Nowhere")
    result = import_learners(store, write(tmp_path, text), today=TODAY)
    assert result.run_id is not None
    run = history.get_run(store, result.run_id)
    assert run is not None
    assert run.job == "import learners"
    assert run.status == "succeeded"
    assert run.counts["inserted"] == 1
    assert run.counts["rejected"] == 1
    (error,) = run.problems
    assert error["record"] == "line 3 (DAU2)"
    assert error["field"] == "StreetState"
    assert "Write one of" in error["message"]


def test_every_rejection_message_is_documented() -> None:
    docs = (DOCS / "csv-import.md").read_text(encoding="utf-8")
    for code, template in REJECTIONS.items():
        fixed_parts = [p.strip() for p in re.split(r"\{[^}]*\}", template) if len(p.strip()) > 8]
        assert f"`{code}`" in docs, code
        for part in fixed_parts:
            assert part in docs, (code, part)
    for column in COLUMNS:
        assert column in docs


# -- properties -------------------------------------------------------------------------------

_cell = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(["", "DAU1", "DAU2", "14/08/1996", "NSW", "0800", "800", "yes", "no"])
_row = st.lists(_cell, min_size=0, max_size=len(COLUMNS) + 2)


_examples = itertools.count()


def _fresh(tmp_path: Path) -> tuple[Path, Store]:
    """A new file name and store for each example (hypothesis reuses the test's tmp_path)."""
    n = next(_examples)
    return tmp_path / f"in-{n}.csv", open_store(f"sqlite:///{tmp_path / f'store-{n}.db'}")


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(_row, max_size=12))
def test_every_row_ends_imported_or_rejected(tmp_path: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path, store = _fresh(tmp_path)
    path.write_text(out.getvalue(), encoding="utf-8")
    try:
        result = import_learners(store, path, today=TODAY)
        with store.read() as conn:
            stored = {learner.ref_internal for learner in iter_learners(conn)}
    finally:
        store.close()
    non_blank = [r for r in rows if any(c.strip() for c in r)]
    assert result.rows == len(non_blank)
    assert result.imported + len(result.rejected) == result.rows
    assert all(r.problems and r.reason for r in result.rejected)
    assert len(stored) == result.inserted
    refs = [" ".join(r[0].split()) for r in non_blank if r]
    for ref in stored:
        assert refs.count(ref) == 1


@pytest.mark.slow
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=300))
def test_no_bytes_crash_the_reader(tmp_path: Path, data: bytes) -> None:
    path, store = _fresh(tmp_path)
    path.write_bytes(b"RefInternal,FirstName,LastName\n" + data)
    try:
        result = import_learners(store, path, today=TODAY)
    except CsvFileError as exc:
        message = exc.message
        result = None
    finally:
        store.close()
    if result is None:
        assert message
    else:
        assert result.imported + len(result.rejected) == result.rows
