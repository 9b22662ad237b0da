"""The audit report: ``report.html`` with its PNG charts, and ``findings.csv``.

:func:`write_report` turns an :class:`~ledgerpilot.audit.model.AuditResult` into files an
auditor opens without a server or a network: a self-contained ``report.html`` (the ranked
findings with their reasons, a summary per check, the charts as PNG files beside it) and
``findings.csv`` (one row per finding, for a spreadsheet or a working paper).

The charts (matplotlib, Agg backend: no display needed):

* ``benford_first.png`` / ``benford_first_two.png``: Benford's first digit and first-two
  digits, observed against expected, with Nigrini's mean absolute deviation and its
  conformity verdict in the title;
* ``weekday.png`` and ``hour.png``: postings by weekday and by hour of posting (the hour
  chart only when the AIS records times);
* ``amounts.png``: the distribution of entry amounts on a log scale.

The weekday, hour and amount charts describe the whole journal of the period, not only
the findings: they come from a :class:`JournalProfile` gathered while the entries are read.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from ledgerpilot.ledger import Document, JournalEntry

from .model import AuditResult, Finding

BENFORD_FIRST = "benford_first.png"
BENFORD_FIRST_TWO = "benford_first_two.png"
WEEKDAY = "weekday.png"
HOUR = "hour.png"
AMOUNTS = "amounts.png"
"""The PNG files :func:`write_report` may write beside ``report.html``."""

CSV_COLUMNS = (
    "rank",
    "score",
    "entry",
    "document",
    "date",
    "kind",
    "partner",
    "amount",
    "posted_by",
    "description",
    "checks",
    "reasons",
)
"""The columns of ``findings.csv``, in order."""

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_OBSERVED = "#1f5fa8"
_EXPECTED = "#c8702a"


@dataclass
class JournalProfile:
    """Counts of the period's journal for the report's charts: weekday, hour, amounts,
    and the lines of the entries to show (``keep``: the findings' entry ids).

    Amounts are kept as floats: they only place bars on a log-scale chart, and never
    take part in any accounting figure.
    """

    by_weekday: list[int] = field(default_factory=lambda: [0] * 7)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    with_time: int = 0
    amounts: list[float] = field(default_factory=list)
    keep: frozenset[str] = frozenset()
    entries: dict[str, JournalEntry] = field(default_factory=dict)
    """The kept entries, by the id a :class:`Finding` names them with."""

    def add(self, document: Document, amount: Decimal | None = None) -> None:
        """Count one posted document's entry (a pending document is ignored); ``amount``:
        its total debit, when its lines were not read."""
        entry = document.entry
        if entry is None:
            return
        self.by_weekday[entry.date.weekday()] += 1
        if entry.posted_at is not None:
            self.by_hour[entry.posted_at.hour] += 1
            self.with_time += 1
        total = sum((ln.debit for ln in entry.lines), Decimal(0)) if amount is None else amount
        if total > 0:
            self.amounts.append(float(total))
        key = entry.id or document.id
        if key in self.keep:
            self.entries[key] = entry

    def observe(self, documents: Iterable[Document]) -> Iterator[Document]:
        """Pass ``documents`` through unchanged, counting each on the way (one pass)."""
        for document in documents:
            self.add(document)
            yield document

    @classmethod
    def of(cls, documents: Iterable[Document], keep: Iterable[str] = ()) -> JournalProfile:
        """The profile of ``documents``, keeping the lines of the entries named in ``keep``."""
        profile = cls(keep=frozenset(keep))
        for document in documents:
            profile.add(document)
        return profile


@dataclass(frozen=True)
class ReportPaths:
    """What :func:`write_report` wrote."""

    html: Path
    csv: Path
    charts: tuple[Path, ...]


def write_report(
    result: AuditResult,
    out_dir: str | Path,
    *,
    top: int | None = None,
    profile: JournalProfile | None = None,
) -> ReportPaths:
    """Write ``report.html``, its PNG charts and ``findings.csv`` into ``out_dir``.

    ``top`` limits the findings listed in the HTML page (``findings.csv`` always holds them
    all); ``profile`` adds the weekday, hour and amount charts of the whole journal.
    Creates the directory if needed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts: list[Path] = []
    benford = _benford_whole(result.checks)
    for digits, name in (("first", BENFORD_FIRST), ("first_two", BENFORD_FIRST_TWO)):
        stats = _benford_test(benford, digits)
        if stats is not None:
            _benford_chart(stats, digits, out / name)
            charts.append(out / name)
    if profile is not None:
        _weekday_chart(profile, out / WEEKDAY)
        charts.append(out / WEEKDAY)
        if profile.with_time:
            _hour_chart(profile, out / HOUR)
            charts.append(out / HOUR)
        _amounts_chart(profile, out / AMOUNTS)
        charts.append(out / AMOUNTS)
    findings_csv = out / "findings.csv"
    write_findings_csv(result.findings, findings_csv)
    page = out / "report.html"
    entries = profile.entries if profile is not None else {}
    page.write_text(_page(result, [c.name for c in charts], top, entries), encoding="utf-8")
    return ReportPaths(page, findings_csv, tuple(charts))


def write_findings_csv(findings: Sequence[Finding], path: Path) -> None:
    """``findings.csv``: one row per finding in rank order, its reasons joined by ``; ``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for rank, f in enumerate(findings, start=1):
            writer.writerow(
                (
                    rank,
                    f"{f.score:.4f}",
                    _cell(f.entry),
                    _cell(f.document),
                    f.date.isoformat(),
                    _cell(f.kind),
                    _cell(f.partner or ""),
                    str(f.amount),
                    _cell(f.posted_by or ""),
                    _cell(f.description),
                    _cell(" ".join(f.checks)),
                    _cell("; ".join(f"{r.check}: {r.detail}" for r in f.reasons)),
                )
            )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula it runs (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


# ------------------------------------------------------------ Benford statistics


def _benford_whole(checks: Mapping[str, Any]) -> Mapping[str, Any]:
    """The whole-journal Benford statistics from the checks' summary, if any."""
    for name, summary in checks.items():
        if (name and "benford" not in name.lower()) or not isinstance(summary, Mapping):
            continue
        if _benford_test(summary, "first") is not None:
            return summary
        for key, value in summary.items():  # nested as {"journal": {...}}
            if (
                key != "groups"
                and isinstance(value, Mapping)
                and _benford_test(value, "first") is not None
            ):
                return value
    return {}


def _benford_test(benford: Mapping[str, Any], digits: str) -> Mapping[str, Any] | None:
    """The statistics of one Benford test (``first`` or ``first_two``), if present."""
    for key in (f"{digits}_digit", f"{digits}_digits", digits):
        stats = benford.get(key)
        if isinstance(stats, Mapping) and stats.get("observed"):
            if "count" in benford and "count" not in stats:
                return {**stats, "count": benford["count"]}
            return stats
    return None


def _digit_series(values: object) -> dict[int, float]:
    """``{digit: share}`` from a mapping or a list (a list starts at 1, or 10 for two digits)."""
    if isinstance(values, Mapping):
        return {int(k): _num(v) for k, v in values.items()}
    if isinstance(values, Sequence) and not isinstance(values, str):
        start = 1 if len(values) <= 9 else 10
        return {start + i: _num(v) for i, v in enumerate(values)}
    return {}


def _num(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def _benford_title(stats: Mapping[str, Any], what: str) -> str:
    parts = [what]
    if stats.get("mad") is not None:
        parts.append(f"MAD {_num(stats['mad']):.4f}")
    if stats.get("verdict"):
        parts.append(str(stats["verdict"]))
    if stats.get("count") is not None:
        parts.append(f"n = {stats['count']}")
    return " · ".join(parts)


def _benford_chart(stats: Mapping[str, Any], digits: str, path: Path) -> None:
    observed = _digit_series(stats.get("observed"))
    expected = _digit_series(stats.get("expected"))
    keys = sorted(set(observed) | set(expected))
    two = digits == "first_two"
    fig, ax = plt.subplots(figsize=(12.0 if two else 6.4, 4.2))
    ax.bar(keys, [observed.get(k, 0.0) for k in keys], color=_OBSERVED, label="observed")
    ax.plot(
        keys,
        [expected.get(k, 0.0) for k in keys],
        color=_EXPECTED,
        marker="" if two else "o",
        linewidth=1.6,
        label="Benford expected",
    )
    ax.set_xlabel("first two digits" if two else "first digit")
    ax.set_ylabel("share of amounts")
    if not two:
        ax.set_xticks(keys)
    what = "Benford, first two digits" if two else "Benford, first digit"
    ax.set_title(_benford_title(stats, what), fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------ journal charts


def _weekday_chart(profile: JournalProfile, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    colors = [_OBSERVED] * 5 + [_EXPECTED] * 2
    ax.bar(WEEKDAYS, profile.by_weekday, color=colors)
    ax.set_ylabel("entries")
    ax.set_title("Postings by weekday (entry date)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hour_chart(profile: JournalProfile, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    ax.bar(range(24), profile.by_hour, color=_OBSERVED)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("hour of posting")
    ax.set_ylabel("entries")
    ax.set_title(f"Postings by hour ({profile.with_time} entries with a time)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _amounts_chart(profile: JournalProfile, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    amounts = profile.amounts
    if amounts:
        low, high = max(min(amounts), 0.01), max(amounts)
        high = max(high, low * 10)
        edges = [low * (high / low) ** (i / 40) for i in range(41)]
        ax.hist(amounts, bins=edges, color=_OBSERVED)
    ax.set_xscale("log")
    ax.set_xlabel("entry amount (total debit), log scale")
    ax.set_ylabel("entries")
    ax.set_title(f"Amount distribution ({len(amounts)} entries)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------ HTML

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.reasons { margin: 0; padding-left: 1.1em; }
code { background: #f6f6f6; padding: 0 0.2em; }
img { max-width: 100%; border: 1px solid #ddd; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1em; }
td.nowrap { white-space: nowrap; }
td.reasons { min-width: 24em; }
.charts img.wide { grid-column: 1 / -1; }
.muted { color: #666; }
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(
    result: AuditResult,
    charts: Sequence[str],
    top: int | None,
    entries: Mapping[str, JournalEntry],
) -> str:
    period = result.period
    start = _esc(period[0]) if period and period[0] else "the beginning"
    end = _esc(period[1]) if period and period[1] else "today"
    shown = result.findings if top is None else result.findings[:top]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>ledgerpilot audit report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Journal entry audit</h1>",
        f'<p class="muted">Period {start} to {end} · {result.entries_scanned} entries scanned · '
        f"{len(result.findings)} findings"
        + (
            f" (top {len(shown)} shown; all in findings.csv)"
            if len(shown) < len(result.findings)
            else ""
        )
        + "</p>",
        _findings_table(shown, entries),
        "<h2>Checks</h2>",
        _checks_table(result.checks),
    ]
    if charts:
        parts.append('<h2>Charts</h2><div class="charts">')
        parts += [
            f'<img src="{_esc(name)}" alt="{_esc(name)}"'
            + (' class="wide">' if name == BENFORD_FIRST_TWO else ">")
            for name in charts
        ]
        parts.append("</div>")
    parts.append(_lines_section(shown, entries))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _note(text: str) -> str:
    return f'<br><span class="muted">{_esc(text)}</span>' if text else ""


def _lines_section(findings: Sequence[Finding], entries: Mapping[str, JournalEntry]) -> str:
    """The journal lines of each listed finding, each under an anchor the findings link to."""
    blocks = []
    for f in findings:
        entry = entries.get(f.entry)
        if entry is None:
            continue
        rows = "".join(
            f"<tr><td>{_esc(ln.account)}</td>"
            f'<td class="num">{_esc(ln.debit if ln.debit else "")}</td>'
            f'<td class="num">{_esc(ln.credit if ln.credit else "")}</td>'
            f"<td>{_esc(ln.description)}</td></tr>"
            for ln in entry.lines
        )
        posted = entry.posted_at.isoformat(sep=" ") if entry.posted_at else "no time recorded"
        blocks.append(
            f'<h3 id="lines-{_esc(f.entry)}">Entry {_esc(f.entry)} · document '
            f"{_esc(f.document)} · {_esc(entry.date.isoformat())} · posted {_esc(posted)}"
            f"{' by ' + _esc(entry.posted_by) if entry.posted_by else ''}</h3>"
            "<table><tr><th>account</th><th>debit</th><th>credit</th><th>description</th></tr>"
            f"{rows}</table>"
        )
    return "<h2>Entry lines</h2>" + "".join(blocks) if blocks else ""


def _entry_cell(f: Finding, entries: Mapping[str, JournalEntry]) -> str:
    name = _esc(f.entry)
    link = f'<a href="#lines-{name}">{name}</a>' if f.entry in entries else name
    return f'<td class="entry">{link}{_note(f.description)}</td>'


def _findings_table(findings: Sequence[Finding], entries: Mapping[str, JournalEntry]) -> str:
    head = "".join(
        f"<th>{c}</th>"
        for c in (
            "rank",
            "score",
            "entry",
            "document",
            "date",
            "kind",
            "partner",
            "posted by",
            "amount",
            "reasons",
        )
    )
    rows = []
    for rank, f in enumerate(findings, start=1):
        reasons = "".join(
            f"<li><code>{_esc(r.check)}</code> {_esc(r.detail)}</li>" for r in f.reasons
        )
        rows.append(
            f'<tr class="finding" id="entry-{_esc(f.entry)}">'
            f'<td class="num">{rank}</td>'
            f'<td class="num score">{f.score:.3f}</td>'
            + _entry_cell(f, entries)
            + f'<td class="nowrap">{_esc(f.document)}</td>'
            f'<td class="nowrap">{_esc(f.date.isoformat())}</td>'
            f"<td>{_esc(f.kind)}</td>"
            f'<td class="partner">{_esc(f.partner or "")}</td>'
            f"<td>{_esc(f.posted_by or '')}</td>"
            f'<td class="num">{_esc(f.amount)}</td>'
            f'<td class="reasons"><ul class="reasons">{reasons}</ul></td></tr>'
        )
    if not rows:
        return "<h2>Findings</h2><p>No entry was flagged by any check.</p>"
    return (
        '<h2>Findings</h2><table id="findings"><tr>' + head + "</tr>" + "".join(rows) + "</table>"
    )


def _checks_table(checks: Mapping[str, Any]) -> str:
    rows = []
    for name, summary in checks.items():
        info = summary if isinstance(summary, Mapping) else {}
        fired = info.get("fired", info.get("count", ""))
        description = info.get("description", "")
        rows.append(
            f'<tr><td><code>{_esc(name)}</code></td><td class="num">{_esc(fired)}</td>'
            f"<td>{_esc(description)}{_benford_groups(info)}</td></tr>"
        )
    return (
        '<table id="checks"><tr><th>check</th><th>fired</th><th>what it tests</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def _benford_groups(info: Mapping[str, Any]) -> str:
    """The MAD verdicts of a Benford check: the whole journal, then each tested group."""
    tested: list[tuple[str, Mapping[str, Any]]] = [("whole journal", _benford_whole({"": info}))]
    groups = info.get("groups")
    if isinstance(groups, Mapping):
        # The least conforming groups first: those are the ones to read.
        tested += sorted(
            ((str(k), v) for k, v in groups.items() if isinstance(v, Mapping)),
            key=lambda item: -_num((_benford_test(item[1], "first_two") or {}).get("mad")),
        )
    elif isinstance(groups, Sequence) and not isinstance(groups, str):
        for g in groups:
            if isinstance(g, Mapping):
                name = " ".join(str(g[k]) for k in ("by", "group", "name", "key") if k in g)
                tested.append((name or "group", g))
    lines = []
    for name, stats_of in tested:
        for digits in ("first", "first_two"):
            stats = _benford_test(stats_of, digits)
            if stats is not None and stats.get("mad") is not None:
                lines.append(
                    f"<li>{_esc(name)}, {digits.replace('_', ' ')} digits: MAD "
                    f"{_num(stats['mad']):.4f}, {_esc(stats.get('verdict', ''))}</li>"
                )
    return f'<ul class="benford">{"".join(lines[:60])}</ul>' if lines else ""
