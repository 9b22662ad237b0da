"""Benchmark: the audit checks against injected anomalies, beside an Isolation Forest.

A synthetic company (``ledgerpilot.synth``) is generated; its first ``--history-years`` are
history (learnt, not judged) and the years after are audited. While the documents stream
by, a few hundred known anomalies are injected into the audited years, about ``--per-kind``
of each kind:

=================  ==================================================================
kind               what is injected
=================  ==================================================================
weekend            posted on the Saturday or Sunday after its usual posting day
night              posted between 00:00 and 04:59
round              an invoice or payment re-sized to a round thousand
just_below         an invoice or payment re-sized to just below 5,000 or 10,000
duplicate          a supplier invoice posted a second time 0-3 days later
split              a supplier invoice replaced by 2-3 invoices within days, each below
                   5,000 or 10,000, together just over it
local              a supplier invoice's expense account swapped for another expense
                   account of the company that this partner never used (normal amount)
rare_user          posted by a user who posts only once or twice
post_closing       posted 15-45 days after its month ended
period_end_manual  a manual voucher at a month's end with little description
unbalanced         one line changed by up to 100.00: debits no longer equal credits
unknown_account    one line on an account code that is not in the chart (a typo)
vat_arithmetic     the input/output VAT line of an invoice off by 5-30% (entry balanced)
=================  ==================================================================

Benford's law is a test of a population, not of an entry, and gets no injected kind.

Then, in the same run and on the same documents:

* ``run_audit`` ranks the audited entries (its findings, by score);
* scikit-learn's ``IsolationForest`` scores the same journal lines, encoded numerically
  (amount, log amount, side, weekday, hour, day of month, posting lag, account code, and
  frequency encodings of account, partner, user, kind, partner x account, kind x account,
  plus the entry's number of lines); an entry scores its most anomalous line.

For both it prints precision at the top 100 / 500 (share of those entries that were
injected) and recall at the top 100 / 500 per kind, with the audit's time and the peak
memory, how many of each kind the audit flags at all and their median rank. The
synthetic history carries its own bookkeeping noise (slips such as a wrong account), which
the checks rightly flag too: those count against precision, and a second precision figure
counts them as found. ``--explain`` prints which checks put the other entries in the top
500. ``--ais URL`` also loads the company, anomalies included, into an empty AIS (SQLite or
PostgreSQL) and times ``audit_ais`` there, with the CPU time of each process, the load
average and the peak memory (``--passes 1`` or ``2`` forces one process or two); the AIS
refuses the unbalanced entries and those on unknown accounts, as it should.

The defaults (7 years of about 30,000 documents: 590,000 journal lines, 180,000 entries
audited) take about 3-4 minutes on 2 cores.

    python benchmarks/bench_audit.py [--years 7] [--per-year 30000] [--per-kind 30]
        [--explain] [--json] [--no-baseline] [--ais sqlite:///PATH] [--passes auto|1|2]
"""

from __future__ import annotations

import argparse
import array
import calendar
import dataclasses
import datetime as dt
import heapq
import json
import math
import os
import random
import resource
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from ledgerpilot.ledger import AccountType, Document, DocumentLine, EntryLine, JournalEntry
from ledgerpilot.synth import SyntheticCompany

CENT = Decimal("0.01")
THRESHOLDS = (Decimal("5000"), Decimal("10000"))
KINDS = (
    "weekend",
    "night",
    "round",
    "just_below",
    "duplicate",
    "split",
    "local",
    "rare_user",
    "post_closing",
    "period_end_manual",
    "unbalanced",
    "unknown_account",
    "vat_arithmetic",
)
TOPS = (100, 500)
KEPT = "kept"
"""An injection that left the document as it is and scheduled new ones (labelled)."""
REPLACED = "replaced"
"""An injection that drops the document for the new ones it scheduled (labelled)."""


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def expense_accounts(company: SyntheticCompany) -> frozenset[str]:
    """The codes of the company's expense accounts."""
    types = {AccountType.EXPENSE, AccountType.EXPENSE_DIRECT_COST}
    return frozenset(a.code for a in company.chart.accounts if a.type in types)


def entry_key(document: Document) -> str:
    """What the rankings are compared by: the document's id (an AIS renumbers entries)."""
    return document.id


def with_entry(document: Document, **changes: Any) -> Document:
    assert document.entry is not None
    return dataclasses.replace(document, entry=dataclasses.replace(document.entry, **changes))


def resized(document: Document, gross: Decimal) -> Document | None:
    """The one-line document (and its entry) re-sized to ``gross``, VAT kept right."""
    entry = document.entry
    if entry is None or len(document.lines) != 1 or document.total_gross <= 0:
        return None
    rate = document.lines[0].tax_rate
    net = (gross / (1 + rate / 100)).quantize(CENT)
    tax = gross - net
    old = {document.total_net: net, document.total_tax: tax, document.total_gross: gross}
    if len(old) != 3 and document.total_tax != 0:
        return None
    lines = []
    for ln in entry.lines:
        value = ln.debit or ln.credit
        if value not in old:
            return None
        new = old[value]
        lines.append(
            dataclasses.replace(
                ln, debit=new if ln.debit else ln.debit, credit=new if ln.credit else ln.credit
            )
        )
    doc_line = dataclasses.replace(document.lines[0], net=net, tax=tax)
    return dataclasses.replace(
        document,
        lines=(doc_line,),
        total_net=net,
        total_tax=tax,
        total_gross=gross,
        entry=dataclasses.replace(entry, lines=tuple(lines)),
    )


@dataclasses.dataclass
class Injector:
    """Streams a company's history with anomalies injected into the audited period."""

    seed: int
    audit_from: dt.date
    rate: float
    expense: frozenset[str]
    """The chart's expense accounts (what a ``local`` anomaly swaps)."""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.partner_accounts: dict[str, set[str]] = {}
        self.partner_invoices: Counter[str] = Counter()
        self.expense_accounts: list[str] = []
        self._expense_seen: set[str] = set()
        self.manual: list[JournalEntry] = []
        self.pending: list[tuple[dt.date, int, Document]] = []
        self.serial = 0
        self.users = 0

    # -------------------------------------------------------- the stream

    def stream(self, documents: Iterable[Document]) -> Iterator[Document]:
        for doc in documents:
            while self.pending and self.pending[0][0] <= doc.date:
                yield heapq.heappop(self.pending)[2]
            if doc.entry is None:
                continue
            out: Document | None = doc
            if doc.date >= self.audit_from and self.rng.random() < self.rate:
                out = self._inject(doc)
            self._learn(doc)
            if out is not None:
                yield out
        while self.pending:
            yield heapq.heappop(self.pending)[2]

    def _later(self, doc: Document) -> None:
        self.serial += 1
        heapq.heappush(self.pending, (doc.date, self.serial, doc))

    def _learn(self, doc: Document) -> None:
        entry = doc.entry
        assert entry is not None
        if doc.partner is not None:
            self.partner_accounts.setdefault(doc.partner.id, set()).update(
                ln.account for ln in entry.lines
            )
        if doc.kind == "supplier_invoice":
            if doc.partner is not None:
                self.partner_invoices[doc.partner.id] += 1
            for ln in self._expense_lines(doc):
                if ln.account not in self._expense_seen:
                    self._expense_seen.add(ln.account)
                    self.expense_accounts.append(ln.account)
        if doc.kind == "other" and len(entry.lines) == 2 and len(self.manual) < 500:
            self.manual.append(entry)

    def _expense_lines(self, doc: Document) -> list[EntryLine]:
        # On the chart's expense accounts: not the VAT lines of an invoice with several VAT
        # rates (each below the VAT total), which would break its VAT arithmetic too.
        assert doc.entry is not None
        return [ln for ln in doc.entry.lines if ln.debit and ln.account in self.expense]

    def _inject(self, doc: Document) -> Document | None:
        # The kind injected least so far that fits this document: about as many of each.
        done = Counter(self.labels.values())
        kinds = sorted(KINDS, key=lambda k: (done[k], self.rng.random()))
        for kind in kinds:
            made = getattr(self, f"_{kind}")(doc)
            if made is None:
                continue
            if isinstance(made, str):
                return doc if made == KEPT else None
            self.labels[entry_key(made)] = kind
            return made
        return doc

    # -------------------------------------------------------- the kinds

    def _weekend(self, doc: Document) -> Document | None:
        at = doc.entry.posted_at if doc.entry else None
        if at is None:
            return None
        ahead = (5 - at.weekday()) % 7 + self.rng.choice((0, 1))
        day = at + dt.timedelta(days=ahead or 7)
        return with_entry(doc, posted_at=day.replace(hour=self.rng.randint(9, 16)))

    def _night(self, doc: Document) -> Document | None:
        at = doc.entry.posted_at if doc.entry else None
        if at is None:
            return None
        return with_entry(doc, posted_at=at.replace(hour=self.rng.randint(0, 4)))

    def _round(self, doc: Document) -> Document | None:
        if doc.kind not in ("supplier_invoice", "bank_payment"):
            return None
        return resized(doc, Decimal(1000 * self.rng.randint(2, 30)))

    def _just_below(self, doc: Document) -> Document | None:
        if doc.kind not in ("supplier_invoice", "bank_payment"):
            return None
        threshold = self.rng.choice(THRESHOLDS)
        gross = (threshold * Decimal(1 - self.rng.uniform(0.002, 0.045))).quantize(CENT)
        return resized(doc, gross)

    def _duplicate(self, doc: Document) -> Document | str | None:
        if doc.kind != "supplier_invoice" or doc.partner is None or doc.entry is None:
            return None
        days = dt.timedelta(days=self.rng.randint(0, 3))
        at = doc.entry.posted_at
        copy = dataclasses.replace(
            doc,
            id=f"{doc.id}-DUP",
            date=doc.date + days,
            entry=dataclasses.replace(
                doc.entry, date=doc.entry.date + days, posted_at=at + days if at else None
            ),
        )
        self.labels[entry_key(copy)] = "duplicate"
        self._later(copy)
        return KEPT

    def _split(self, doc: Document) -> Document | str | None:
        if doc.kind != "supplier_invoice" or doc.partner is None or doc.entry is None:
            return None
        threshold = self.rng.choice(THRESHOLDS)
        total = threshold * Decimal(1 + self.rng.uniform(0.02, 0.2))
        parts = self.rng.choice((2, 3))
        shares = [self.rng.uniform(0.85, 1.15) for _ in range(parts)]
        made = []
        for i, share in enumerate(shares):
            gross = (total * Decimal(share / sum(shares))).quantize(CENT)
            part = resized(doc, gross)
            if part is None or part.entry is None:
                return None
            days = dt.timedelta(days=i)
            at = part.entry.posted_at
            made.append(
                dataclasses.replace(
                    part,
                    id=f"{doc.id}-S{i + 1}",
                    number=f"{doc.number}-{i + 1}",
                    date=doc.date + days,
                    entry=dataclasses.replace(
                        part.entry, date=doc.date + days, posted_at=at + days if at else None
                    ),
                )
            )
        for part in made:
            self.labels[entry_key(part)] = "split"
            self._later(part)
        return REPLACED

    def _local(self, doc: Document) -> Document | None:
        if doc.kind != "supplier_invoice" or doc.partner is None or doc.entry is None:
            return None
        partner = doc.partner.id
        if self.partner_invoices[partner] < 5:
            return None  # nothing is unusual for a partner without a history
        used = self.partner_accounts.get(partner, set())
        candidates = [a for a in self.expense_accounts if a not in used]
        expense = self._expense_lines(doc)
        if not candidates or not expense:
            return None
        old = self.rng.choice(expense).account
        new = self.rng.choice(candidates)
        lines = tuple(
            dataclasses.replace(ln, account=new) if ln.account == old else ln
            for ln in doc.entry.lines
        )
        return with_entry(doc, lines=lines)

    def _rare_user(self, doc: Document) -> Document | None:
        self.users += 1
        return with_entry(doc, posted_by=f"temp.user{self.users // 2}")

    def _post_closing(self, doc: Document) -> Document | None:
        at = doc.entry.posted_at if doc.entry else None
        if at is None:
            return None
        day = month_end(doc.date) + dt.timedelta(days=self.rng.randint(15, 45))
        return with_entry(doc, posted_at=dt.datetime.combine(day, at.time()))

    def _period_end_manual(self, doc: Document) -> Document | str | None:
        if not self.manual:
            return None
        model = self.rng.choice(self.manual)
        amount = (model.lines[0].debit or model.lines[0].credit) * Decimal(
            self.rng.uniform(0.5, 2.0)
        )
        amount = amount.quantize(CENT)
        lines = tuple(
            dataclasses.replace(
                ln,
                debit=amount if ln.debit else ln.debit,
                credit=amount if ln.credit else ln.credit,
                description="",
            )
            for ln in model.lines
        )
        day = month_end(doc.date) - dt.timedelta(days=self.rng.randint(0, 1))
        self.serial += 1
        voucher = Document(
            id=f"MAN-{self.serial}",
            kind="other",
            number=f"MAN-{self.serial}",
            date=day,
            partner=None,
            currency=doc.currency,
            lines=(DocumentLine("", amount, Decimal(0), Decimal("0.00")),),
            total_net=amount,
            total_tax=Decimal("0.00"),
            total_gross=amount,
            text="",
            entry=JournalEntry(
                date=day,
                lines=lines,
                description=self.rng.choice(("", "adj", "corr.", "per CFO")),
                posted_by=model.posted_by,
                posted_at=dt.datetime.combine(day, dt.time(self.rng.randint(9, 17), 12)),
            ),
        )
        self.labels[voucher.id] = "period_end_manual"
        self._later(voucher)
        return KEPT

    def _unbalanced(self, doc: Document) -> Document | None:
        assert doc.entry is not None
        lines = list(doc.entry.lines)
        i = self.rng.randrange(len(lines))
        delta = Decimal(self.rng.randint(1, 10000)) * CENT
        ln = lines[i]
        lines[i] = (
            dataclasses.replace(ln, debit=ln.debit + delta)
            if ln.debit
            else dataclasses.replace(ln, credit=ln.credit + delta)
        )
        return with_entry(doc, lines=tuple(lines))

    def _unknown_account(self, doc: Document) -> Document | None:
        assert doc.entry is not None
        lines = list(doc.entry.lines)
        i = self.rng.randrange(len(lines))
        code = lines[i].account
        typo = code[:-1] if len(code) > 3 else code + "9"
        lines[i] = dataclasses.replace(lines[i], account=typo)
        return with_entry(doc, lines=tuple(lines))

    def _vat_arithmetic(self, doc: Document) -> Document | None:
        if doc.kind not in ("supplier_invoice", "sales_invoice") or doc.total_tax <= 0:
            return None
        assert doc.entry is not None
        tax, gross = doc.total_tax, doc.total_gross
        delta = max(CENT, (tax * Decimal(self.rng.uniform(0.05, 0.3))).quantize(CENT))
        changed = {tax: tax + delta, gross: gross + delta}
        if len(changed) != 2:
            return None
        lines = []
        for ln in doc.entry.lines:
            value = ln.debit or ln.credit
            if value in changed:
                new = changed.pop(value)
                ln = dataclasses.replace(
                    ln, debit=new if ln.debit else ln.debit, credit=new if ln.credit else ln.credit
                )
            lines.append(ln)
        if changed:
            return None
        return with_entry(doc, lines=tuple(lines))


# ------------------------------------------------------------ the baseline


class Encoder:
    """Journal lines as numbers for the Isolation Forest (frequency-encoded categories)."""

    NUMERIC = (
        "amount",
        "log_amount",
        "debit",
        "weekday",
        "hour",
        "day_of_month",
        "lag_days",
        "account_code",
        "lines_in_entry",
    )
    CATEGORIES = ("account", "partner", "user", "kind", "partner_account", "kind_account")

    def __init__(self) -> None:
        self.columns = {name: array.array("d") for name in self.NUMERIC}
        self.codes = {name: array.array("l") for name in self.CATEGORIES}
        self.index: dict[str, dict[str, int]] = {name: {} for name in self.CATEGORIES}
        self.line_entry = array.array("l")
        self.entries: list[str] = []

    def _code(self, category: str, value: str) -> int:
        known = self.index[category]
        found = known.get(value)
        if found is None:
            found = known[value] = len(known)
        return found

    def add(self, doc: Document) -> None:
        entry = doc.entry
        assert entry is not None
        n = len(self.entries)
        self.entries.append(entry_key(doc))
        at = entry.posted_at
        partner = doc.partner.id if doc.partner else "-"
        user = entry.posted_by or "-"
        for ln in entry.lines:
            value = float(ln.debit or ln.credit)
            c = self.columns
            c["amount"].append(value)
            c["log_amount"].append(math.log10(abs(value) + 0.01))
            c["debit"].append(1.0 if ln.debit else 0.0)
            c["weekday"].append(float(entry.date.weekday()))
            c["hour"].append(at.hour + at.minute / 60 if at else -1.0)
            c["day_of_month"].append(float(entry.date.day))
            c["lag_days"].append(float((at.date() - entry.date).days) if at else 0.0)
            digits = "".join(ch for ch in ln.account if ch.isdigit())
            c["account_code"].append(float(digits or 0))
            c["lines_in_entry"].append(float(len(entry.lines)))
            self.codes["account"].append(self._code("account", ln.account))
            self.codes["partner"].append(self._code("partner", partner))
            self.codes["user"].append(self._code("user", user))
            self.codes["kind"].append(self._code("kind", doc.kind))
            self.codes["partner_account"].append(
                self._code("partner_account", f"{partner}|{ln.account}")
            )
            self.codes["kind_account"].append(
                self._code("kind_account", f"{doc.kind}|{ln.account}")
            )
            self.line_entry.append(n)

    def matrix(self) -> object:
        import numpy as np

        columns = [np.frombuffer(self.columns[name], dtype=np.float64) for name in self.NUMERIC]
        for name in self.CATEGORIES:
            codes = np.frombuffer(self.codes[name], dtype=np.int64)
            freq = np.bincount(codes) / len(codes)
            columns.append(freq[codes])
        return np.column_stack(columns).astype(np.float32)


def isolation_forest_ranking(encoder: Encoder, seed: int) -> list[str]:
    """Entries ranked by their most anomalous line's Isolation Forest score."""
    import numpy as np
    from sklearn.ensemble import IsolationForest

    x = encoder.matrix()
    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=-1).fit(x)
    line_score = -forest.score_samples(x)
    owners = np.frombuffer(encoder.line_entry, dtype=np.int64)
    entry_score = np.full(len(encoder.entries), -np.inf)
    np.maximum.at(entry_score, owners, line_score)
    order = np.argsort(-entry_score, kind="stable")
    return [encoder.entries[i] for i in order]


# ------------------------------------------------------------ measuring


def measure(ranking: list[str], labels: dict[str, str], slips: set[str]) -> dict[str, object]:
    """Precision and recall at each top K (recall per kind too), how many of each kind are
    ranked at all, and their median rank. ``slips``: entries the synthetic history itself
    got wrong, counted in a second precision figure."""
    per_kind = Counter(labels.values())
    out: dict[str, object] = {}
    for k in TOPS:
        top = ranking[:k]
        hits = Counter(labels[e] for e in top if e in labels)
        out[f"precision@{k}"] = round(sum(hits.values()) / k, 3)
        out[f"precision@{k} with slips"] = round(
            sum(1 for e in top if e in labels or e in slips) / k, 3
        )
        out[f"recall@{k}"] = round(sum(hits.values()) / max(1, len(labels)), 3)
        out[f"recall@{k} by kind"] = {
            kind: round(hits[kind] / per_kind[kind], 3) for kind in sorted(per_kind)
        }
    rank = {e: n for n, e in enumerate(ranking, start=1)}
    out["ranked"] = len(ranking)
    out["flagged by kind"] = {
        kind: round(sum(1 for e, k in labels.items() if k == kind and e in rank) / n, 3)
        for kind, n in sorted(per_kind.items())
    }
    out["median rank by kind"] = {
        kind: statistics.median(
            rank.get(e, len(ranking) + 1) for e, k in labels.items() if k == kind
        )
        for kind in sorted(per_kind)
    }
    return out


def audit_in_ais(
    url: str,
    company: SyntheticCompany,
    audit_from: dt.date,
    rate: float,
    seed: int,
    slips: set[str],
    passes: str = "auto",
) -> dict[str, object]:
    """Load the injected company into the AIS at ``url``, then time ``audit_ais`` on it
    (``passes``: ``1`` one process, ``2`` its entry part in a second process, ``auto`` as
    ``audit_ais`` decides)."""
    from ledgerpilot.audit.run import audit_ais
    from ledgerpilot.connectors import ReferenceAIS

    injector = Injector(seed, audit_from, rate, expense_accounts(company))
    with ReferenceAIS.create(url) as ais:
        if ais.summary().documents:
            raise SystemExit(f"the AIS at {url} is not empty")
        started = time.perf_counter()
        loaded = ais.load(injector.stream(company.history()), chart=company.chart)
        load_s = time.perf_counter() - started
        rejected = {r.split(":", 1)[0] for r in loaded.rejected}
        labels = {d: k for d, k in injector.labels.items() if d not in rejected}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu = time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        parallel = {"1": False, "2": True}.get(passes)
        result = audit_ais(ais, since=audit_from, parallel=parallel)
        audit_s = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = after.ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(
        f"AIS {url.split('://')[0]}: loaded {loaded.inserted} documents, {loaded.lines} lines "
        f"in {load_s:.1f} s ({len(rejected)} injected documents refused by the AIS); "
        f"audit_ais {result.entries_scanned} entries in {audit_s:.1f} s "
        f"(CPU {cpu:.1f} s here, {child_cpu:.1f} s in the second process; load average "
        f"{load:.1f} on {os.cpu_count()} cores), peak RSS {peak:.0f} MiB ({before:.0f} MiB "
        f"before), second process {child_peak:.0f} MiB"
    )
    figures = measure([f.document for f in result.findings], labels, slips)
    print(
        "  from the AIS: "
        + ", ".join(
            f"{m} {figures[m]}"
            for m in ("precision@100", "recall@100", "precision@500", "recall@500")
        )
    )
    return {
        "lines": loaded.lines,
        "load_seconds": round(load_s, 1),
        "refused": len(rejected),
        "audit_seconds": round(audit_s, 1),
        "audit_cpu_seconds": round(cpu, 1),
        "second_process_cpu_seconds": round(child_cpu, 1),
        "load_average": round(load, 1),
        "entries_audited": result.entries_scanned,
        "peak_rss_mib": round(peak),
        "second_process_peak_rss_mib": round(child_peak),
        "run_audit": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chart", default="hr")
    parser.add_argument("--years", type=int, default=7, help="Years of history in all.")
    parser.add_argument("--per-year", type=int, default=30000, help="Documents a year, about.")
    parser.add_argument(
        "--history-years", type=int, default=1, help="First years learnt from, not audited."
    )
    parser.add_argument("--per-kind", type=int, default=30, help="Anomalies of each kind.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-baseline", action="store_true", help="Skip the Isolation Forest.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    parser.add_argument(
        "--ais",
        help="Also load the company (anomalies included) into this empty AIS (sqlite:///PATH "
        "or a PostgreSQL URL) and time audit_ais on it.",
    )
    parser.add_argument(
        "--passes",
        choices=("auto", "1", "2"),
        default="auto",
        help="With --ais: run audit_ais in one process (1), with its entry part in a second "
        "process (2), or as audit_ais decides (auto: two on a large period when the machine "
        "is not busy).",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="Also print which checks rank the entries that were not injected into the top 500.",
    )
    args = parser.parse_args()

    from ledgerpilot.audit.run import run_audit
    from ledgerpilot.synth import generate

    def company() -> SyntheticCompany:
        return generate(
            args.chart, years=args.years, inbox=0, seed=args.seed, per_year=args.per_year
        )

    made = company()
    start_year = 2025 + 1 - args.years
    audit_from = dt.date(start_year + args.history_years, 1, 1)
    audited_estimate = args.per_year * (args.years - args.history_years)
    rate = args.per_kind * len(KINDS) / max(1, audited_estimate) * 1.1

    started = time.perf_counter()
    slips = {s.document for s in made.history_slips()}
    generation_s = time.perf_counter() - started

    injector = Injector(args.seed, audit_from, rate, expense_accounts(made))
    tally = Counter[str]()

    def counted(documents: Iterable[Document]) -> Iterator[Document]:
        for doc in documents:
            tally["documents"] += 1
            tally["lines"] += len(doc.entry.lines) if doc.entry else 0
            yield doc

    started = time.perf_counter()
    result = run_audit(counted(injector.stream(company().history())), made.chart, since=audit_from)
    audit_s = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    labels = injector.labels
    injected = dict(sorted(Counter(labels.values()).items()))
    print(
        f"company: {tally['documents']} documents, {tally['lines']} journal lines "
        f"(generated in {generation_s:.1f} s); audited from {audit_from}; "
        f"{len(slips)} documents with the history's own slips"
    )
    print(
        f"run_audit: {result.entries_scanned} entries audited, {len(result.findings)} findings, "
        f"{audit_s:.1f} s including generation (about {audit_s - generation_s:.1f} s beyond "
        f"it), peak RSS {peak_mib:.0f} MiB"
    )
    print(f"injected: {len(labels)} anomalies: {injected}")

    figures: dict[str, object] = {
        "documents": tally["documents"],
        "journal_lines": tally["lines"],
        "entries_audited": result.entries_scanned,
        "findings": len(result.findings),
        "injected": injected,
        "audit_seconds": round(audit_s, 1),
        "generation_seconds": round(generation_s, 1),
        "peak_rss_mib": round(peak_mib),
        "run_audit": measure([f.document for f in result.findings], labels, slips),
    }
    if args.ais:
        figures["ais"] = audit_in_ais(
            args.ais, company(), audit_from, rate, args.seed, slips, passes=args.passes
        )
    if args.explain:
        top = max(TOPS)
        combos = Counter(
            " + ".join(sorted(f.checks)) for f in result.findings[:top] if f.entry not in labels
        )
        print(f"checks of the entries in the top {top} that were not injected:")
        for combo, count in combos.most_common(12):
            print(f"  {count:5}  {combo}")
    if not args.no_baseline:
        encoder = Encoder()
        again = Injector(args.seed, audit_from, rate, expense_accounts(made))
        started = time.perf_counter()
        for doc in again.stream(company().history()):
            if doc.date >= audit_from:
                encoder.add(doc)
        assert again.labels == labels, "the injection is not deterministic"
        ranking = isolation_forest_ranking(encoder, args.seed)
        forest_s = time.perf_counter() - started
        figures["isolation_forest"] = measure(ranking, labels, slips)
        figures["isolation_forest_seconds"] = round(forest_s, 1)
        features = len(Encoder.NUMERIC) + len(Encoder.CATEGORIES)
        print(
            f"IsolationForest: {len(encoder.line_entry)} lines, {features} features, "
            f"{forest_s:.1f} s including generation and encoding"
        )
    _print_table(figures)
    if args.json:
        print(json.dumps(figures, indent=2))


def _print_table(figures: dict[str, object]) -> None:
    methods = [m for m in ("run_audit", "isolation_forest") if m in figures]
    injected = figures["injected"]
    assert isinstance(injected, dict)
    header = f"{'':20}" + "".join(f"{m + ' @' + str(k):>22}" for m in methods for k in TOPS)
    print(header + f"{'flagged':>10}{'median rank':>13}")
    for what in ("precision", "precision with slips", "recall"):
        row = f"{what:20}"
        for m in methods:
            for k in TOPS:
                key = f"{what}@{k}" if " " not in what else f"precision@{k} with slips"
                row += f"{figures[m][key]:>22.3f}"  # type: ignore[index]
        print(row)
    for kind in sorted(injected):
        row = f"  {kind} ({injected[kind]})".ljust(20)
        for m in methods:
            for k in TOPS:
                row += f"{figures[m][f'recall@{k} by kind'][kind]:>22.3f}"  # type: ignore[index]
        ours = figures["run_audit"]
        row += f"{ours['flagged by kind'][kind]:>10.3f}"  # type: ignore[index]
        row += f"{ours['median rank by kind'][kind]:>13.0f}"  # type: ignore[index]
        print(row)


if __name__ == "__main__":
    main()
