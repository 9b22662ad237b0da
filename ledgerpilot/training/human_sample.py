"""The blind graded benchmark's sheet: held-out documents, the backends' drafts side by side.

``ledgerpilot eval human-sample`` draws a sample of documents posted from a hold-out date on,
stratified by document kind (:func:`allocate`, :func:`draw_sample`), drafts each with every
chosen backend as ``ledgerpilot eval`` does (the history before the date indexed, the entry
stripped, :func:`~ledgerpilot.training.evaluation.draft_in_process`), optionally adds the
entry that was actually posted (the gold entry), and writes two files:

* the *sheet* (CSV, UTF-8 with a byte order mark so that spreadsheet programs read the
  accents right): one row per document and candidate, the candidates of a document
  shuffled and lettered A, B, C, ... with nothing that tells which backend drafted which:
  no backend or model name, no explanation or line descriptions (the backends word them
  differently), the lines in one canonical order and format, row ids in sheet order;
* the *key* (JSON): which backend and model drafted each row. Graders never see it;
  ``ledgerpilot eval human-import`` un-blinds their grades with it
  (:mod:`ledgerpilot.training.grading`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import random
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.ledger import ChartOfAccounts, Document, EntryLine, format_amount

from .evaluation import MakeBackend, ProgressCallback, draft_in_process
from .grading import COLUMNS, GOLD, KEY_FORMAT, SCORES

NO_ENTRY = "(no entry proposed)"
"""What the sheet shows for a candidate that proposed nothing."""
_TOKEN_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
"""Row ids start with a token of these letters: no vowels (no words), and nothing that a
spreadsheet program would take for a number or a date."""
MAX_SUMMARY_LINES = 6


class PostedHistory(Protocol):
    """What the sample reads from an AIS (every connector has it)."""

    @property
    def display_url(self) -> str:
        """Where the AIS is, without a password."""
        ...

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        ...

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterator[Document]:
        """Posted documents with their entries, by date (``until`` exclusive)."""
        ...


def allocate(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """How many documents of each kind a sample of ``n`` takes from strata of ``sizes``.

    Every kind gets one when ``n`` allows it, the rest is shared in proportion to what each
    kind has left (largest remainder, ties by kind name); a kind never gets more than it
    has. ``n`` at or above the total takes everything.
    """
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    kinds = sorted(k for k, size in sizes.items() if size > 0)
    taken = {k: (1 if n >= len(kinds) else 0) for k in kinds}
    left = n - sum(taken.values())
    rest = {k: sizes[k] - taken[k] for k in kinds}
    pool = sum(rest.values())
    quotas = {k: Fraction(left * rest[k], pool) if pool else Fraction(0) for k in kinds}
    for k in kinds:
        taken[k] += int(quotas[k])
    short = n - sum(taken.values())
    by_remainder = sorted(kinds, key=lambda k: (-(quotas[k] - int(quotas[k])), k))
    for k in by_remainder:
        if short == 0:
            break
        if taken[k] < sizes[k]:
            taken[k] += 1
            short -= 1
    return taken


def draw_sample(documents: Sequence[Document], n: int, rng: random.Random) -> list[Document]:
    """A sample of ``n`` documents stratified by kind (:func:`allocate`), in random order."""
    strata: dict[str, list[Document]] = {}
    for doc in documents:
        strata.setdefault(doc.kind, []).append(doc)
    counts = allocate({k: len(v) for k, v in strata.items()}, n)
    chosen = [doc for k in sorted(strata) for doc in rng.sample(strata[k], counts.get(k, 0))]
    rng.shuffle(chosen)
    return chosen


def summary(doc: Document) -> str:
    """The document as a grader reads it in one cell: kind, number, date, partner, totals,
    its lines and its note."""
    c = doc.currency
    head = f"{doc.kind.replace('_', ' ')} {doc.number} of {doc.date.isoformat()}"
    if doc.partner is not None:
        head += f", {doc.partner.name}"
        if doc.partner.country:
            head += f" ({doc.partner.country})"
    parts = [
        head,
        f"net {format_amount(doc.total_net, c)} + VAT {format_amount(doc.total_tax, c)} "
        f"= gross {format_amount(doc.total_gross, c)} {c}",
    ]
    for ln in doc.lines[:MAX_SUMMARY_LINES]:
        parts.append(
            f"- {ln.description}: net {format_amount(ln.net, c)}, VAT {ln.tax_rate.normalize():f}%"
            f" {format_amount(ln.tax, c)}"
        )
    if len(doc.lines) > MAX_SUMMARY_LINES:
        parts.append(f"- ... and {len(doc.lines) - MAX_SUMMARY_LINES} more lines")
    if doc.text:
        parts.append(f"note: {doc.text}")
    return "\n".join(parts)


def render_entry(lines: Sequence[EntryLine] | None, chart: ChartOfAccounts, currency: str) -> str:
    """An entry as the sheet shows it: one line per entry line, ``CODE NAME: debit X``,
    debits first, then by account and amount, so that equal entries read the same whoever
    drafted them."""
    if not lines:
        return NO_ENTRY

    def shown(ln: EntryLine) -> str:
        account = chart.get(ln.account)
        name = account.name if account is not None else "(not in the chart of accounts)"
        sides = []
        if ln.debit or not ln.credit:
            sides.append(f"debit {format_amount(ln.debit, currency)}")
        if ln.credit:
            sides.append(f"credit {format_amount(ln.credit, currency)}")
        return f"{ln.account} {name}: {', '.join(sides)}"

    ordered = sorted(lines, key=lambda ln: (ln.side != "debit", ln.account, ln.amount))
    return "\n".join(shown(ln) for ln in ordered)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One entry to grade for a document, and (for the key only) where it came from."""

    source: str
    """The backend's name, or :data:`~ledgerpilot.training.grading.GOLD` for the posted entry."""
    model: str | None
    """The model or index version that drafted it (the AIS for the gold entry)."""
    status: str | None
    """Where the agent's routing would have sent the draft; ``None`` for the gold entry."""
    entry: str
    """The entry as the sheet shows it (:func:`render_entry`)."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row of the sheet: a document and one of its shuffled candidates."""

    row: str
    document: Document
    letter: str
    candidate: Candidate


@dataclass(frozen=True, slots=True)
class BlindSheet:
    """A drawn and drafted sample: the sheet's rows and what the key records."""

    token: str
    """The sheet's id, the prefix of its row ids: a sheet and a key that belong together."""
    seed: int
    holdout_from: dt.date
    sources: tuple[str, ...]
    """The backends drafted, and the gold entry when it is among the candidates."""
    ais: str
    rows: tuple[SheetRow, ...]

    def key(self) -> dict[str, Any]:
        """The key file's JSON: who drafted each row, and how the sample was drawn."""
        return {
            "format": KEY_FORMAT,
            "sheet": self.token,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "ais": self.ais,
            "holdout_from": self.holdout_from.isoformat(),
            "seed": self.seed,
            "sources": list(self.sources),
            "documents": len({r.document.id for r in self.rows}),
            "grades": dict(SCORES),
            "rows": {
                r.row: {
                    "document": r.document.id,
                    "kind": r.document.kind,
                    "candidate": r.letter,
                    "source": r.candidate.source,
                    "model": r.candidate.model,
                    "status": r.candidate.status,
                }
                for r in self.rows
            },
        }


def build_sheet(
    ais: PostedHistory,
    holdout_from: dt.date,
    backends: Mapping[str, MakeBackend],
    n: int,
    with_gold: bool = False,
    seed: int | None = None,
    policy: RoutingPolicy | None = None,
    max_repairs: int = 2,
    on_progress: ProgressCallback | None = None,
) -> BlindSheet:
    """Draw ``n`` held-out documents stratified by kind and draft each with every backend.

    ``backends`` maps a backend's name to its factory (as :func:`~.evaluation.run_eval`
    takes one). ``seed`` (a random one when ``None``; the key records it) fixes the sample,
    the shuffles and the sheet's token. ``on_progress`` is called with (drafts made, drafts
    in all).
    """
    if not backends and not with_gold:
        raise ValueError("nothing to grade: name at least one backend (or add the gold entry)")
    if GOLD in backends:
        raise ValueError(f"{GOLD!r} is the posted entry, not a backend: add it with --with-gold")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    token = "".join(rng.choice(_TOKEN_LETTERS) for _ in range(5))
    policy = policy or RoutingPolicy()
    chart = ais.chart()
    index = HistoryIndex.build(ais.history(until=holdout_from), chart)
    held_out = [d for d in ais.history(since=holdout_from) if d.entry is not None]
    if not held_out:
        raise ValueError(f"no posted documents from {holdout_from.isoformat()} on to sample")
    sample = draw_sample(held_out, n, rng)
    candidates: dict[str, list[Candidate]] = {doc.id: [] for doc in sample}
    total, done = len(sample) * len(backends), 0
    for name, make in backends.items():
        backend = make(index, chart)
        for doc in sample:
            draft = draft_in_process(
                backend, index, chart, dataclasses.replace(doc, entry=None), policy, max_repairs
            )
            proposal = draft.proposal
            scheme = proposal.scheme if proposal is not None else None
            candidates[doc.id].append(
                Candidate(
                    name,
                    proposal.model if proposal is not None else None,
                    draft.status,
                    render_entry(scheme.lines if scheme else None, chart, doc.currency),
                )
            )
            done += 1
            if on_progress is not None:
                on_progress(done, total)
    if with_gold:
        for doc in sample:
            assert doc.entry is not None
            candidates[doc.id].append(
                Candidate(
                    GOLD, ais.display_url, None, render_entry(doc.entry.lines, chart, doc.currency)
                )
            )
    rows: list[SheetRow] = []
    width = max(3, len(str(len(sample) * (len(backends) + with_gold))))
    for doc in sample:
        shuffled = list(candidates[doc.id])
        rng.shuffle(shuffled)
        for letter, candidate in zip(string.ascii_uppercase, shuffled, strict=False):
            rows.append(SheetRow(f"{token}-{len(rows) + 1:0{width}d}", doc, letter, candidate))
    sources = (*backends, GOLD) if with_gold else tuple(backends)
    return BlindSheet(token, seed, holdout_from, sources, ais.display_url, tuple(rows))


def default_key_path(sheet_path: str | Path) -> Path:
    """``sheet.key.json`` beside ``sheet.csv``."""
    path = Path(sheet_path)
    return path.with_name(f"{path.stem}.key.json")


def write_sheet(sheet: BlindSheet, csv_path: str | Path, key_path: str | Path) -> None:
    """Write the sheet (CSV, UTF-8 with BOM, grade, reason and grader left blank) and its key."""
    csv_file, key_file = Path(csv_path), Path(key_path)
    if csv_file.resolve() == key_file.resolve():
        raise ValueError("the sheet and its key must be two files")
    csv_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    with csv_file.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in sheet.rows:
            writer.writerow(
                [r.row, r.document.id, summary(r.document), r.letter, r.candidate.entry, "", "", ""]
            )
    key_file.write_text(
        json.dumps(sheet.key(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
