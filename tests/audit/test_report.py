"""The audit report: report.html readable and ranked, text escaped, charts valid PNGs, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import struct
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from ledgerpilot.audit.benford import test as benford_test
from ledgerpilot.audit.model import AuditResult, Finding, Reason
from ledgerpilot.audit.report import (
    AMOUNTS,
    BENFORD_FIRST,
    BENFORD_FIRST_TWO,
    CSV_COLUMNS,
    HOUR,
    WEEKDAY,
    JournalProfile,
    write_report,
)
from ledgerpilot.ledger import Document, EntryLine, JournalEntry, Partner

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)> "Evil" d.o.o.'
FORMULA = '=HYPERLINK("http://evil.example","click")'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def finding(entry: str, score: float, partner: str | None, *reasons: Reason) -> Finding:
    return Finding(
        entry=entry,
        document=f"DOC-{entry}",
        date=dt.date(2024, 3, 31),
        score=score,
        reasons=reasons,
        partner=partner,
        kind="supplier_invoice",
        amount=Decimal("4990.00"),
        posted_by="ana",
        description=f"entry {entry}",
    )


def result() -> AuditResult:
    # A two-digit spread that is far from Benford: every amount starts with 4 or 5.
    counts = [0] * 90
    counts[49 - 10] = 60
    counts[50 - 10] = 40
    benford = benford_test(counts)
    findings = [
        finding(
            "E3",
            7.5,
            HOSTILE,
            Reason("duplicate", "same partner and amount as E2 two days before", 3.0),
            Reason("just_below_threshold", "4,990.00 is just below the 5,000.00 approval", 2.0),
            Reason("unseen_combination", "account 4100 never used for this partner <b>", 2.5),
        ),
        finding("E1", 3.0, "P1", Reason("weekend_or_holiday", "posted on Sunday 2024-03-31", 3.0)),
        finding("E2", 0.75, FORMULA, Reason("round_amount", "5,000.00 is round", 0.75)),
    ]
    return AuditResult(
        entries_scanned=40,
        findings=findings,
        checks={
            "duplicate": {"fired": 1, "description": "same partner & amount <within> a window"},
            "weekend_or_holiday": {"fired": 1, "description": "weekends and public holidays"},
            "benford": {
                "fired": 0,
                "description": "Benford's law on first and first-two digits",
                "journal": benford,
                "groups": {"account 4000": benford},
            },
        },
        period=(dt.date(2024, 3, 1), dt.date(2024, 3, 31)),
    )


def document(number: int, day: int, hour: int | None, amount: str) -> Document:
    value = Decimal(amount)
    entry = JournalEntry(
        date=dt.date(2024, 3, day),
        lines=(
            EntryLine("4000", value, Decimal(0), "cost"),
            EntryLine("2200", Decimal(0), value, "supplier"),
        ),
        id=f"E{number}",
        posted_at=None if hour is None else dt.datetime(2024, 3, day, hour, 5),
    )
    return Document(
        id=f"DOC-E{number}",
        kind="supplier_invoice",
        number=str(number),
        date=entry.date,
        partner=Partner("P1", "Supplier"),
        currency="EUR",
        lines=(),
        total_net=value,
        total_tax=Decimal(0),
        total_gross=value,
        entry=entry,
    )


class Page(HTMLParser):
    """The parts of report.html the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.cells: dict[str, list[str]] = {}
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "img":
            self.images.append(found["src"] or "")
        if tag == "td" and found.get("class") in ("entry", "partner", "num score"):
            self._cell = str(found["class"])
            self.cells.setdefault(self._cell, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        if tag == "br":  # the entry's description follows its id
            self._cell = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.cells[self._cell][-1] += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_lists_findings_in_score_order_with_reasons(tmp_path: Path) -> None:
    paths = write_report(result(), tmp_path)
    page = parse(paths.html)
    assert [c.split("entry ")[0] for c in page.cells["entry"]] == ["E3", "E1", "E2"]
    assert page.cells["num score"] == ["7.500", "3.000", "0.750"]
    text = paths.html.read_text(encoding="utf-8")
    assert "same partner and amount as E2 two days before" in text
    assert "never used for this partner &lt;b&gt;" in text
    assert "same partner &amp; amount &lt;within&gt; a window" in text
    assert "MAD" in text and "nonconformity" in text


def test_hostile_partner_name_is_escaped(tmp_path: Path) -> None:
    paths = write_report(result(), tmp_path)
    page = parse(paths.html)
    assert "script" not in page.tags
    assert page.images == [BENFORD_FIRST, BENFORD_FIRST_TWO]  # no <img> from the name
    assert page.cells["partner"][0] == HOSTILE  # shown as text, whole


def test_charts_are_valid_pngs_beside_the_page(tmp_path: Path) -> None:
    profile = JournalProfile.of(
        [document(1, 4, 9, "120.00"), document(2, 9, 23, "4990.00"), document(3, 31, 3, "7.5")]
    )
    assert profile.by_weekday[5:] == [1, 1]  # Saturday 9th, Sunday 31st
    assert profile.by_hour[9] == profile.by_hour[23] == profile.by_hour[3] == 1
    paths = write_report(result(), tmp_path, profile=profile)
    names = [p.name for p in paths.charts]
    assert names == [BENFORD_FIRST, BENFORD_FIRST_TWO, WEEKDAY, HOUR, AMOUNTS]
    for chart in paths.charts:
        width, height = png_size(chart)
        assert width > 300 and height > 200
    assert parse(paths.html).images == names


def test_no_hour_chart_without_posting_times(tmp_path: Path) -> None:
    profile = JournalProfile.of([document(1, 4, None, "120.00")])
    assert profile.with_time == 0 and profile.by_weekday[0] == 1
    paths = write_report(result(), tmp_path, profile=profile)
    assert [p.name for p in paths.charts] == [BENFORD_FIRST, BENFORD_FIRST_TWO, WEEKDAY, AMOUNTS]


def test_findings_csv_holds_every_finding_with_reasons_joined(tmp_path: Path) -> None:
    paths = write_report(result(), tmp_path, top=1)
    with paths.csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["entry"] for r in rows] == ["E3", "E1", "E2"]
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    first = rows[0]
    assert first["document"] == "DOC-E3"
    assert first["partner"] == HOSTILE
    assert first["amount"] == "4990.00"
    assert first["date"] == "2024-03-31"
    assert first["checks"] == "duplicate just_below_threshold unseen_combination"
    assert first["reasons"].split("; ")[0] == (
        "duplicate: same partner and amount as E2 two days before"
    )
    assert len(first["reasons"].split("; ")) == 3
    assert rows[2]["partner"] == "'" + FORMULA  # shown as text, never run as a formula
    # --top limits the page, never the CSV
    assert [c.split("entry ")[0] for c in parse(paths.html).cells["entry"]] == ["E3"]


def test_empty_audit_still_writes_a_readable_report(tmp_path: Path) -> None:
    empty = AuditResult(entries_scanned=0, findings=[], checks={})
    paths = write_report(empty, tmp_path / "nested" / "out")
    assert "No entry was flagged" in paths.html.read_text(encoding="utf-8")
    assert paths.csv.read_text(encoding="utf-8").strip() == ",".join(CSV_COLUMNS)
    assert paths.charts == ()
