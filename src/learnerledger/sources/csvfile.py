"""Learners from a CSV export of the student management system.

``read_learners`` turns a file into learners and rejections, one per record; ``import_learners``
stores the learners (keyed by RefInternal, unchanged ones left alone), records the run and can
write the rejected rows to a report. The format is in docs/csv-import.md; every rejection
message is listed there too.

The file is read twice, streaming: once to find RefInternals that repeat (an error for every
row that has one), once to validate and store. Memory stays flat in the number of rows.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from learnerledger.domain.learner import Address, Learner
from learnerledger.errors import CsvFileError
from learnerledger.jobs import Job, ProgressListener
from learnerledger.sources.fields import (
    FieldProblem,
    check_birth_date,
    normalise_country,
    normalise_phone,
    normalise_postcode,
    normalise_state,
    parse_date,
)
from learnerledger.store import Store
from learnerledger.store.learners import UpsertResult, upsert_learners

__all__ = [
    "COLUMNS",
    "REJECTIONS",
    "REQUIRED_COLUMNS",
    "BlankLines",
    "CsvReading",
    "ImportResult",
    "Problem",
    "Rejection",
    "Warning_",
    "import_learners",
    "parse_rows",
    "read_learners",
    "write_report",
]

COLUMNS = (
    "RefInternal",
    "FirstName",
    "LastName",
    "Email",
    "Mobile",
    "PhoneHome",
    "PhoneWork",
    "DateOfBirth",
    "StreetAddress",
    "StreetSuburb",
    "StreetState",
    "StreetPostcode",
    "StreetCountry",
    "PostalAddress",
    "PostalSuburb",
    "PostalState",
    "PostalPostcode",
    "PostalCountry",
    "SyncToXero",
)
REQUIRED_COLUMNS = ("RefInternal", "FirstName", "LastName")

# Other spellings an SMS export or a hand-made sheet may use; compared after _loose().
_ALIASES = {
    "learnernumber": "RefInternal",
    "studentnumber": "RefInternal",
    "givenname": "FirstName",
    "surname": "LastName",
    "familyname": "LastName",
    "emailaddress": "Email",
    "mobilephone": "Mobile",
    "mobilenumber": "Mobile",
    "homephone": "PhoneHome",
    "workphone": "PhoneWork",
    "dob": "DateOfBirth",
    "birthdate": "DateOfBirth",
    "synctoxero": "SyncToXero",
}
# Columns of our own rejection report: a fixed report can be imported again as it is.
_REPORT_COLUMNS = ("Line", "Reason")

# Every rejection, by code. The message templates are documented in docs/csv-import.md and a
# test keeps the two in step.
REJECTIONS: dict[str, str] = {
    "ref_missing": "RefInternal is empty. Fill in the learner's RefInternal (Wisenet's "
    "LearnerNumber): it is how learnerledger recognises the learner.",
    "ref_too_long": "RefInternal {value!r} is longer than 50 characters (Xero's limit for a "
    "Contact Code). Use the learner's RefInternal from the SMS.",
    "ref_repeated": "RefInternal {value!r} is also on {others}. Each learner must appear "
    "once: keep the right row and delete the others.",
    "too_long": "The value is {length} characters long; at most {limit} fit. Shorten it.",
    "control_character": "The value contains a control character (such as NUL or escape). "
    "Retype the value.",
    "line_break": "The value spans several lines (lines {first}-{last} of the file): a double "
    "quote is probably not closed. Close the quote or remove the line breaks.",
    "too_many_values": "The line has {count} values but the header has {columns} columns: a "
    "value probably contains a comma. Put that value in double quotes.",
    "not_csv": "The line cannot be read as CSV ({error}). Check its double quotes.",
    "bad_date": "{detail}",
    "bad_state": "{detail}",
    "bad_postcode": "{detail}",
    "bad_flag": "{value!r} is not yes or no. Write true or false (yes/no, y/n, 1/0 also "
    "work), or leave it empty for true.",
}

_PROGRESS_EVERY = 10_000
_MULTILINE_OK = {"StreetAddress", "PostalAddress"}
_MAX_ADDRESS_LINES = 3
_LIMITS = {
    "RefInternal": 50,
    "FirstName": 255,
    "LastName": 255,
    "Email": 255,
    "Mobile": 50,
    "PhoneHome": 50,
    "PhoneWork": 50,
    "StreetAddress": 500,
    "StreetSuburb": 255,
    "StreetState": 50,
    "StreetPostcode": 20,
    "StreetCountry": 100,
    "PostalAddress": 500,
    "PostalSuburb": 255,
    "PostalState": 50,
    "PostalPostcode": 20,
    "PostalCountry": 100,
    "SyncToXero": 20,
    "DateOfBirth": 40,
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = {"true", "yes", "y", "1", "t", "x"}
_FALSE = {"false", "no", "n", "0", "f"}
_ERROR_HANDLER = "learnerledger-cp1252"


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    # Windows-1252 leaves five bytes undefined; keep them as the matching C1 code points
    # (what Latin-1 would give) rather than fail the whole file.
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(chr(b) for b in bad), error.end


codecs.register_error(_ERROR_HANDLER, _cp1252_fallback)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one value: the column, the rejection code and its message."""

    column: str
    code: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """A record that was not imported. ``line`` is where it starts in the file (header = 1)."""

    line: int
    ref_internal: str
    problems: tuple[Problem, ...]
    values: tuple[str, ...]

    @property
    def reason(self) -> str:
        return " ".join(f"{p.column}: {p.message}" for p in self.problems)


@dataclass(frozen=True)
class Warning_:
    line: int
    ref_internal: str
    message: str


@dataclass
class CsvReading:
    """What ``read_learners`` learned about a file before any row was stored."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[str, int]  # canonical column -> index in the file's rows
    ignored_columns: list[str]
    repeated: dict[str, list[int]]  # casefolded RefInternal -> lines, for those seen twice+
    rows: int = 0  # records after the header, blank lines not counted


@dataclass
class ImportResult:
    path: str
    encoding: str
    dry_run: bool
    rows: int = 0
    blank_lines: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    run_id: int | None = None
    report: str | None = None

    @property
    def imported(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "warnings": len(self.warnings),
            "blank_lines": self.blank_lines,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "ignored_columns": self.ignored_columns,
            "rejected": [
                {
                    "line": r.line,
                    "ref_internal": r.ref_internal,
                    "problems": [
                        {"column": p.column, "code": p.code, "message": p.message}
                        for p in r.problems
                    ],
                }
                for r in self.rejected
            ],
            "warnings": [
                {"line": w.line, "ref_internal": w.ref_internal, "message": w.message}
                for w in self.warnings
            ],
            "report": self.report,
            "run_id": self.run_id,
        }


def _loose(name: str) -> str:
    """Header names compare without case, spaces, underscores, hyphens or dots."""
    return re.sub(r"[\s_.\-]+", "", name).casefold()


_CANONICAL = {_loose(c): c for c in COLUMNS} | _ALIASES


def _detect_encoding(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _open(path: Path, encoding: str) -> IO[str]:
    errors = _ERROR_HANDLER if encoding == "cp1252" else "strict"
    return path.open(encoding=encoding, errors=errors, newline="")


@dataclass
class _Record:
    first: int  # first and last physical line of the record
    last: int
    fields: list[str] | None  # None: the line could not be parsed
    error: str = ""


def _records(handle: IO[str], delimiter: str) -> Iterator[_Record]:
    reader = csv.reader(handle, delimiter=delimiter)
    previous = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if reader.line_num == previous:  # the reader did not move on: stop, never loop
                raise CsvFileError(
                    str(getattr(handle, "name", "file")),
                    f"line {previous + 1} cannot be read as CSV ({exc}).",
                    fix="Check the file's double quotes.",
                ) from None
            yield _Record(previous + 1, reader.line_num, None, str(exc))
            previous = reader.line_num
            continue
        yield _Record(previous + 1, reader.line_num, fields)
        previous = reader.line_num


def _is_blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


def _read_header(path: Path, encoding: str) -> tuple[str, list[str]]:
    label = str(path)
    try:
        with _open(path, encoding) as handle:
            first_line = handle.readline()
    except UnicodeError:
        raise CsvFileError(
            label, "the file is not text in UTF-8, UTF-16 or Windows-1252."
        ) from None
    if not first_line.strip():
        raise CsvFileError(
            label,
            "the file is empty or its first line is blank.",
            fix="The first line must name the columns: " + ",".join(COLUMNS) + ".",
        )
    # Spreadsheets in some locales separate with semicolons, and "Unicode text" with tabs.
    delimiter = max(",;\t", key=lambda d: (first_line.count(d), d == ","))
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    return delimiter, header


def _map_columns(label: str, header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        canonical = _CANONICAL.get(_loose(name))
        if canonical is None:
            if name.strip() and name.strip() not in _REPORT_COLUMNS:
                ignored.append(name.strip())
            continue
        if canonical in columns:
            raise CsvFileError(
                label,
                f"the header names {canonical} twice (columns {columns[canonical] + 1} and "
                f"{index + 1}).",
                fix="Keep one of the two columns.",
            )
        columns[canonical] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        found = ", ".join(repr(h) for h in header[:25]) or "none"
        raise CsvFileError(
            label,
            f"the header has no {' or '.join(missing)} column (columns found: {found}).",
            fix="The first line must name the columns, at least RefInternal, FirstName and "
            "LastName; see docs/csv-import.md for the others.",
        )
    return columns, ignored


def read_learners(path: str | Path) -> CsvReading:
    """Check a file's encoding and header and find repeated RefInternals (the first pass)."""
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise CsvFileError(label, "there is no such file.", fix="Check the path.")
    try:
        encoding = _detect_encoding(path)
        delimiter, header = _read_header(path, encoding)
        columns, ignored = _map_columns(label, header)
        ref_index = columns["RefInternal"]
        lines: dict[str, list[int]] = {}
        rows = 0
        with _open(path, encoding) as handle:
            records = _records(handle, delimiter)
            next(records, None)
            for record in records:
                if record.fields is None:
                    rows += 1
                    continue
                if _is_blank(record.fields):
                    continue
                rows += 1
                if ref_index < len(record.fields):
                    ref = " ".join(record.fields[ref_index].split())
                    if ref:
                        lines.setdefault(ref.casefold(), []).append(record.first)
    except OSError as exc:
        raise CsvFileError(
            label, f"the file cannot be read: {exc.strerror or exc}.", fix="Check its permissions."
        ) from None
    repeated = {ref: found for ref, found in lines.items() if len(found) > 1}
    return CsvReading(path, encoding, delimiter, header, columns, ignored, repeated, rows)


class _Row:
    """One record being validated: collects problems and warnings column by column."""

    def __init__(self, record: _Record, columns: dict[str, int]) -> None:
        assert record.fields is not None
        self.record = record
        self.fields = record.fields
        self.columns = columns
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def reject(self, column: str, code: str, **details: Any) -> None:
        self.problems.append(Problem(column, code, REJECTIONS[code].format(**details)))

    def raw(self, column: str) -> str:
        index = self.columns.get(column)
        if index is None or index >= len(self.fields):
            return ""
        return self.fields[index]

    def text(self, column: str) -> str:
        """The value trimmed and checked for length, control characters and line breaks."""
        value = self.raw(column)
        if "\n" in value or "\r" in value:
            lines = [part.strip() for part in value.splitlines() if part.strip()]
            if column not in _MULTILINE_OK or len(lines) > _MAX_ADDRESS_LINES:
                self.reject(column, "line_break", first=self.record.first, last=self.record.last)
                return ""
            value = ", ".join(lines)
        if _CONTROL.search(value):
            self.reject(column, "control_character")
            return ""
        value = " ".join(value.split())  # tabs and runs of spaces become one space
        limit = _LIMITS[column]
        if len(value) > limit:
            if column == "RefInternal":
                self.reject(column, "ref_too_long", value=value[:60])
            else:
                self.reject(column, "too_long", length=len(value), limit=limit)
            return ""
        return value


def _address(row: _Row, prefix: str) -> Address:
    line = row.text(f"{prefix}Address")
    suburb = row.text(f"{prefix}Suburb")
    country = normalise_country(row.text(f"{prefix}Country"))
    state = row.text(f"{prefix}State")
    try:
        state = normalise_state(state, country)
    except FieldProblem as exc:
        row.reject(f"{prefix}State", "bad_state", detail=str(exc))
    postcode = ""
    raw_postcode = row.text(f"{prefix}Postcode")
    if raw_postcode:
        try:
            postcode, warning = normalise_postcode(raw_postcode, country)
        except FieldProblem as exc:
            row.reject(f"{prefix}Postcode", "bad_postcode", detail=str(exc))
        else:
            if warning:
                row.warnings.append(f"{prefix}Postcode: {warning}")
    return Address(line, suburb, state, postcode, country)


def _learner(row: _Row, region: str, today: date) -> Learner | None:
    ref = row.text("RefInternal")
    if not ref and not any(p.column == "RefInternal" for p in row.problems):
        row.reject("RefInternal", "ref_missing")
    first_name = row.text("FirstName")
    last_name = row.text("LastName")
    email = row.text("Email")
    phones: dict[str, str] = {}
    for column in ("Mobile", "PhoneHome", "PhoneWork"):
        value, warning = normalise_phone(row.text(column), region, column)
        phones[column] = value
        if warning:
            row.warnings.append(warning)
    born: date | None = None
    raw_date = row.text("DateOfBirth")
    if raw_date:
        try:
            born = parse_date(raw_date)
            check_birth_date(born, today)
        except FieldProblem as exc:
            row.reject("DateOfBirth", "bad_date", detail=str(exc))
            born = None
    street = _address(row, "Street")
    postal = _address(row, "Postal")
    sync = True
    flag = row.text("SyncToXero").casefold()
    if flag in _FALSE:
        sync = False
    elif flag and flag not in _TRUE:
        row.reject("SyncToXero", "bad_flag", value=row.raw("SyncToXero").strip())
    if row.problems:
        return None
    return Learner(
        ref_internal=ref,
        first_name=first_name,
        last_name=last_name,
        email=email,
        mobile=phones["Mobile"],
        phone_home=phones["PhoneHome"],
        phone_work=phones["PhoneWork"],
        date_of_birth=born,
        street=street,
        postal=postal,
        sync_to_xero=sync,
        source="csv",
        warnings=tuple(row.warnings),
    )


@dataclass(frozen=True)
class BlankLines:
    """Lines with no value at all (spreadsheets leave them at the end): counted, not rows."""

    count: int


def parse_rows(
    reading: CsvReading, *, region: str = "AU", today: date | None = None
) -> Iterator[tuple[int, Learner | Rejection | BlankLines]]:
    """Yield ``(line, outcome)`` for every record after the header: the learner it holds, or
    its rejection, or the blank lines it consists of."""
    today = today or datetime.now(UTC).date()
    width = len(reading.header)
    with _open(reading.path, reading.encoding) as handle:
        records = _records(handle, reading.delimiter)
        next(records, None)
        for record in records:
            if record.fields is None:
                message = REJECTIONS["not_csv"].format(error=record.error)
                problem = Problem("(line)", "not_csv", message)
                yield record.first, Rejection(record.first, "", (problem,), ())
                continue
            if _is_blank(record.fields):
                yield record.first, BlankLines(record.last - record.first + 1)
                continue
            row = _Row(record, reading.columns)
            extra = record.fields[width:]
            if any(value.strip() for value in extra):
                row.reject("(line)", "too_many_values", count=len(record.fields), columns=width)
            ref = " ".join(row.raw("RefInternal").split())
            others = reading.repeated.get(ref.casefold()) if ref else None
            if others:
                rest = [str(n) for n in others if n != record.first]
                rest_text = ("lines " if len(rest) > 1 else "line ") + ", ".join(rest)
                row.reject("RefInternal", "ref_repeated", value=ref, others=rest_text)
            learner = _learner(row, region, today)
            if learner is None:
                rejection = Rejection(record.first, ref, tuple(row.problems), tuple(record.fields))
                yield record.first, rejection
            else:
                yield record.first, learner


class _DryRun(Exception):
    """Rolls back a dry run's transaction after everything was checked and counted."""


def import_learners(
    store: Store,
    path: str | Path,
    *,
    region: str = "AU",
    dry_run: bool = False,
    report: str | Path | None = None,
    today: date | None = None,
    now: datetime | None = None,
    on_progress: ProgressListener | None = None,
) -> ImportResult:
    """Import a learner CSV: valid rows are stored (in one transaction), bad rows rejected.

    The import runs in the job frame (``learnerledger.jobs``): its run record holds the
    counts and a problem per rejected value (record ``line N (RefInternal)``, the column as
    its field, the rejection's code and message); ``on_progress`` gets a ``learners`` event
    every 10,000 rows. With ``dry_run`` nothing is stored and no run is recorded; the result
    says what would have happened. ``report`` names a CSV file for the rejected rows
    (written even when no row was rejected, so a script can rely on it).
    """
    reading = read_learners(path)
    if report is not None:
        _check_writable(Path(report))
    result = ImportResult(
        path=str(reading.path),
        encoding=reading.encoding,
        dry_run=dry_run,
        ignored_columns=reading.ignored_columns,
        header=reading.header,
    )
    now = now or datetime.now(UTC)
    with Job(store, "import learners", on_progress=on_progress, record=not dry_run) as job:
        try:
            totals = _store_rows(store, reading, result, job, region, today, now, dry_run)
        finally:
            job.counts.update(result.counts())
        result.inserted, result.updated, result.unchanged = (
            totals.inserted,
            totals.updated,
            totals.unchanged,
        )
        job.counts.update(result.counts())
        if report is not None:
            write_report(report, reading.header, result.rejected)
            result.report = str(report)
        job.message = (
            f"{reading.path.name}: {result.imported} imported, {len(result.rejected)} rejected"
        )
    result.run_id = job.run_id
    return result


def _store_rows(
    store: Store,
    reading: CsvReading,
    result: ImportResult,
    job: Job,
    region: str,
    today: date | None,
    now: datetime,
    dry_run: bool,
) -> UpsertResult:
    """Validate every row and store the valid ones, in one transaction (rolled back for a
    dry run); rejections become the run's problems."""
    batch: list[Learner] = []
    totals = UpsertResult()
    try:
        with store.transaction() as conn:
            for line, item in parse_rows(reading, region=region, today=today):
                if isinstance(item, BlankLines):
                    result.blank_lines += item.count
                    continue
                result.rows += 1
                if result.rows % _PROGRESS_EVERY == 0:
                    job.progress("learners", result.rows, reading.rows)
                if isinstance(item, Rejection):
                    result.rejected.append(item)
                    _record_rejection(job, item)
                    continue
                for message in item.warnings:
                    result.warnings.append(Warning_(line, item.ref_internal, message))
                batch.append(item)
                if len(batch) >= 1000:
                    totals.add(upsert_learners(conn, batch, now=now))
                    batch = []
            totals.add(upsert_learners(conn, batch, now=now))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return totals


def _record_rejection(job: Job, rejection: Rejection) -> None:
    record = f"line {rejection.line}" + (
        f" ({rejection.ref_internal})" if rejection.ref_internal else ""
    )
    for p in rejection.problems:
        # "(line)" stands for the record as a whole, which is no field.
        job.problem(record, p.code, p.message, field="" if p.column == "(line)" else p.column)


def _check_writable(path: Path) -> None:
    """Find out before importing that the report can be written, not after."""
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise CsvFileError(
            str(path),
            f"the report cannot be written: {exc.strerror or exc}.",
            fix="Choose another --report path.",
        ) from None


def write_report(path: str | Path, header: Sequence[str], rejected: Sequence[Rejection]) -> None:
    """The rejected rows as they were in the file, plus the line and the reason. UTF-8 with
    a BOM so that spreadsheets open it correctly; a fixed report can be imported again."""
    kept = [h for h in header if h.strip() not in _REPORT_COLUMNS]
    indexes = [i for i, h in enumerate(header) if h.strip() not in _REPORT_COLUMNS]
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*kept, *_REPORT_COLUMNS])
        for r in rejected:
            values = [r.values[i] if i < len(r.values) else "" for i in indexes]
            writer.writerow([*values, r.line, r.reason])
