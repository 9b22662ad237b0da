"""The portable interchange format: a chart CSV and a documents JSON Lines file.

* ``accounts.csv``: :meth:`ChartOfAccounts.to_csv` / :meth:`ChartOfAccounts.from_csv`.
* ``documents.jsonl``: one document a line, exactly :meth:`Document.to_json`; a document
  with ``entry`` is posted history, one without is pending. Database ids are not part of
  the format: an exported entry carries no ``id``, an imported one's is ignored.

Imports are all-or-nothing per file: one bad line and nothing of that file is written,
while the report lists every bad line with its number and what is wrong with it.
Importing the same files again writes nothing new.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledgerpilot.ledger import ChartOfAccounts, Document, DocumentError, PostingScheme, validate

from .comparing import check_loadable
from .errors import database_errors
from .loading import load_documents
from .reference import ReferenceAIS
from .schema import CODE_LENGTH

MAX_LINE_BYTES = 8_000_000
"""A documents line longer than this is reported unread (no real document comes close)."""
_NO_CHART_CODES = frozenset({"unknown_account", "non_postable_account"})


@dataclass(frozen=True, slots=True)
class LineError:
    """A bad line of an interchange file."""

    line: int
    """1-based line number in the file."""
    message: str
    file: str = field(default="", compare=False)
    """The file's path as it was given (not compared: the same error in another copy)."""

    def __str__(self) -> str:
        return f"{self.file or 'line'}:{self.line}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """``{"file", "line", "message"}``."""
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class ImportReport:
    """What :func:`import_files` did; nothing of a file with errors was written."""

    accounts: int = 0
    """Accounts in the chart file."""
    accounts_written: int = 0
    """Accounts inserted or updated."""
    documents: int = 0
    """Documents read from the documents file."""
    inserted: int = 0
    """Documents written."""
    skipped: int = 0
    """Documents already in the AIS as they are in the file."""
    entries: int = 0
    """Journal entries written (with new documents or attached to pending ones)."""
    chart_errors: list[LineError] = field(default_factory=list)
    """Bad lines of the chart file (nothing of it was written, and no document)."""
    document_errors: list[LineError] = field(default_factory=list)
    """Bad lines of the documents file (no document of it was written)."""

    @property
    def errors(self) -> list[LineError]:
        """Every bad line, of the chart file first."""
        return self.chart_errors + self.document_errors

    @property
    def ok(self) -> bool:
        """Whether both files were imported without a bad line."""
        return not self.chart_errors and not self.document_errors

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values, bad lines under ``errors``."""
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "accounts_written": self.accounts_written,
            "documents": self.documents,
            "inserted": self.inserted,
            "skipped": self.skipped,
            "entries": self.entries,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export` wrote."""

    accounts: int
    documents: int
    posted: int
    accounts_path: Path
    documents_path: Path


def read_documents(
    path: Path, chart: ChartOfAccounts | None = None
) -> tuple[list[Document], list[LineError]]:
    """Read a documents JSON Lines file: the good documents, and an error per bad line.

    Blank lines are skipped. A line is bad when it is not UTF-8 JSON, not a document
    (:class:`DocumentError`), its figures do not add up (:meth:`Document.check`), its text
    cannot be stored, its posted entry does not validate (against ``chart`` when given:
    unknown or non-postable accounts), or its id was already used on an earlier line.
    Never raises for what is in the file.
    """
    numbered, errors = read_numbered_documents(path, chart)
    return [doc for _, doc in numbered], errors


def read_numbered_documents(
    path: Path, chart: ChartOfAccounts | None = None
) -> tuple[list[tuple[int, Document]], list[LineError]]:
    """Like :func:`read_documents`, with each document's line number."""
    found: list[tuple[int, Document]] = []
    errors: list[LineError] = []
    first_line: dict[str, int] = {}
    name = str(path)
    with open(path, "rb") as stream:
        for number, raw in _lines(stream):
            if raw is None:
                errors.append(
                    LineError(
                        number, f"the line is longer than {MAX_LINE_BYTES} bytes; not read", name
                    )
                )
                continue
            if not raw.strip():
                continue
            doc, problems = _read_line(raw, number == 1, chart)
            if doc is not None and doc.id in first_line:
                problems.append(
                    f"document id {doc.id[:80]!r} was already used on line {first_line[doc.id]}"
                )
            elif doc is not None:
                first_line[doc.id] = number
            if problems:
                where = f"document {doc.id[:80]!r}: " if doc is not None else ""
                errors.append(LineError(number, where + "; ".join(problems), name))
            elif doc is not None:
                found.append((number, doc))
    return found, errors


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines; ``None`` for one too long to read (the rest of it is skipped)."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE_BYTES)
            yield number, None
        else:
            yield number, raw


def _read_line(
    raw: bytes, first: bool, chart: ChartOfAccounts | None
) -> tuple[Document | None, list[str]]:
    raw = raw.rstrip(b"\r\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"not UTF-8 text (byte {exc.start + 1} of the line)"]
    if first:
        text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except RecursionError:
        return None, ["the JSON is nested too deeply"]
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON: {exc.msg} at column {exc.colno}"]
    except ValueError as exc:  # integers too long to convert
        if "digits" in str(exc):
            return None, ["not valid JSON: a number has thousands of digits"]
        return None, [f"not valid JSON: {str(exc)[:200]}"]
    try:
        doc = Document.from_json(data)
    except DocumentError as exc:
        return None, [str(exc)[:500]]
    problems = [v.message for v in doc.check()]
    unstorable = check_loadable(doc, None)
    if unstorable is not None:
        problems.append(unstorable)
    if doc.entry is not None:
        problems.extend(_entry_problems(doc, chart))
    return doc, problems


def _entry_problems(doc: Document, chart: ChartOfAccounts | None) -> list[str]:
    assert doc.entry is not None
    scheme = PostingScheme(
        document=doc.id,
        kind=doc.kind,
        explanation=doc.entry.description,
        lines=doc.entry.lines,
        currency=doc.currency,
    )
    found = validate(scheme, chart if chart is not None else ChartOfAccounts(()))
    if chart is None:
        found = [v for v in found if v.code not in _NO_CHART_CODES]
    return [("entry " + (f"line {v.line}: " if v.line else "") + v.message) for v in found]


def read_chart_file(path: Path) -> tuple[ChartOfAccounts | None, list[LineError]]:
    """Read a chart CSV: the chart, or ``None`` and an error per bad line."""
    name = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [
            LineError(data[: exc.start].count(b"\n") + 1, f"not UTF-8 text: {exc.reason}", name)
        ]
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    try:
        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            number = reader.line_num
            problem = _chart_row_problem(row, seen, number)
            if problem:
                errors.append(LineError(number, problem, name))
    except csv.Error as exc:
        return None, [LineError(reader.line_num, f"not readable as CSV: {exc}", name)]
    if errors:
        return None, errors
    try:
        return ChartOfAccounts.from_csv(text), []
    except (ValueError, csv.Error) as exc:
        return None, [LineError(1, str(exc), name)]


def _chart_row_problem(row: dict[str | Any, Any], seen: dict[str, int], number: int) -> str | None:
    code = (row.get("code") or "").strip()
    if not code:
        return None  # from_csv skips rows without a code
    if len(code) > CODE_LENGTH:
        return f"account code longer than {CODE_LENGTH} characters"
    if code in seen:
        return f"account {code} appears again (first on line {seen[code]})"
    seen[code] = number
    if len((row.get("account_type") or "").strip()) > CODE_LENGTH:
        return f"account {code}: account_type longer than {CODE_LENGTH} characters"
    if any(isinstance(v, str) and "\x00" in v for v in row.values()):
        return f"account {code}: contains a NUL character"
    if None in row:
        return f"account {code}: more fields than the header has"
    return None


def import_files(
    ais: ReferenceAIS, chart_path: Path | None, documents_path: Path | None
) -> ImportReport:
    """Import a chart CSV, then a documents JSON Lines file; all-or-nothing per file.

    A bad chart file stops the import before the documents. Documents are checked against
    the chart in the AIS as the chart file leaves it; a document whose id is already in the
    AIS with other content is a bad line as well.
    """
    report = ImportReport()
    file_chart: ChartOfAccounts | None = None
    if chart_path is not None:
        file_chart, report.chart_errors = read_chart_file(chart_path)
        if file_chart is None:
            return report
        report.accounts = len(file_chart)
        report.accounts_written = ais.save_chart(file_chart)
    if documents_path is None:
        return report
    numbered, unreadable = read_numbered_documents(documents_path, ais.chart())
    where = str(documents_path)
    report.documents = len(numbered) + len(unreadable)
    # With bad lines, a dry run still finds the good lines' conflicts with the AIS.
    with database_errors("importing documents"):
        loaded = load_documents(
            ais.engine,
            ais.write_engine,
            (doc for _, doc in numbered),
            atomic=True,
            dry_run=bool(unreadable),
        )
    if unreadable or not loaded.written:
        lines = {doc.id: number for number, doc in numbered}
        report.document_errors = sorted(
            [
                *unreadable,
                *(
                    LineError(lines[doc_id], f"document {doc_id[:80]!r}: {reason}", where)
                    for doc_id, reason in loaded.refused.items()
                ),
            ],
            key=lambda err: err.line,
        )
        return report
    report.inserted, report.skipped, report.entries = (
        loaded.inserted,
        loaded.skipped,
        loaded.entries,
    )
    return report


def export(ais: ReferenceAIS, out_dir: Path) -> ExportReport:
    """Write ``accounts.csv`` and ``documents.jsonl`` (by date, then id) into ``out_dir``.

    The bytes depend only on what the AIS holds, so an export of an import of an export is
    the same file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = ais.chart()
    accounts_path = out_dir / "accounts.csv"
    documents_path = out_dir / "documents.jsonl"
    _write_atomically(accounts_path, lambda out: out.write(chart.to_csv()))
    counts = {"documents": 0, "posted": 0}

    def write_documents(out: IO[str]) -> None:
        for doc in ais.all_documents():
            out.write(json.dumps(document_json(doc), ensure_ascii=False))
            out.write("\n")
            counts["documents"] += 1
            counts["posted"] += doc.entry is not None

    _write_atomically(documents_path, write_documents)
    return ExportReport(
        accounts=len(chart),
        documents=counts["documents"],
        posted=counts["posted"],
        accounts_path=accounts_path,
        documents_path=documents_path,
    )


def document_json(doc: Document) -> dict[str, Any]:
    """The interchange object of ``doc``: :meth:`Document.to_json` without database ids."""
    data = doc.to_json()
    if "entry" in data:
        data["entry"].pop("id", None)
    return data


def _write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file renamed into place: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
