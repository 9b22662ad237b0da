"""Human evaluation from the approval queue: every decision an accountant makes judges a draft.

``ledgerpilot eval human`` reads the proposal store's decision log and reports, per backend,
model version and document kind, what people did with the drafts: accepted unchanged,
accepted after edits (and how many lines they changed), rejected (and why, in categories a
bookkeeper recognises), how long a draft waited for its decision, and, apart from these,
what an auto-approval policy approved and what still waits.

What counts, for one proposal (:func:`judge`):

* its *final decision* is the last approval or rejection by a person (not the
  auto-approval policy, not a worker's quarantine) up to the end of the period; a
  proposal is in the period when that decision is, or, when it has none yet, when it was
  drafted in the period (it is then counted as waiting);
* *accepted after edits* when a person changed its lines before that approval; the lines
  changed compare the lines as drafted (the first edit's ``before``) with the lines
  approved (the approval's ``after``) on account, debit and credit (:func:`lines_changed`);
* *time to decision* runs from the draft's creation to its final decision.

Rejection reasons are free text in the store (``review reject --reason``, the web form).
:func:`reason_category` sorts them: an explicit category first (``"duplicate: SI-0 again"``,
``"[wrong account] 4100"``), else a light keyword match in English, Croatian and German,
else ``other``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ledgerpilot.review.models import StoredDecision, StoredProposal
    from ledgerpilot.review.store import ProposalStore

Outcome = Literal["unchanged", "edited", "rejected", "auto", "waiting"]
"""What became of a draft: accepted unchanged, accepted after edits, rejected,
approved by the auto-approval policy, or still waiting for a person."""


@functools.cache
def system_users() -> tuple[str, frozenset[str]]:
    """The auto-approval policy's name, and every name the system decides under: their
    decisions are not a person's judgement. (Imported when first needed: the agent's
    modules load LangGraph, which the reason categories of ``human-import`` do not need.)"""
    from ledgerpilot.agent.settling import SYSTEM_USER
    from ledgerpilot.agent.state import AUTO_APPROVER

    return AUTO_APPROVER, frozenset({AUTO_APPROVER, SYSTEM_USER})


REASON_CATEGORIES: dict[str, str] = {
    "wrong_account": "wrong account",
    "wrong_amount": "wrong amount or VAT",
    "wrong_partner": "wrong partner",
    "wrong_date": "wrong date or period",
    "duplicate": "duplicate",
    "not_ours": "not ours",
    "other": "other",
}
"""Categories of rejection reasons (key: label), in the order reports show them."""

_ALIASES: dict[str, str] = {
    "account": "wrong_account",
    "wrong account": "wrong_account",
    "amount": "wrong_amount",
    "wrong amount": "wrong_amount",
    "vat": "wrong_amount",
    "wrong vat": "wrong_amount",
    "tax": "wrong_amount",
    "wrong amount or vat": "wrong_amount",
    "partner": "wrong_partner",
    "wrong partner": "wrong_partner",
    "date": "wrong_date",
    "period": "wrong_date",
    "wrong date": "wrong_date",
    "wrong period": "wrong_date",
    "wrong date or period": "wrong_date",
    "duplicate": "duplicate",
    "not ours": "not_ours",
    "other": "other",
}
"""Explicit category names a reason may start with (``"vat: 13 %, not 25 %"``)."""

# First match wins, in this order: the decisive reasons (a duplicate, someone else's
# document) before the details, and the partner before the account ("wrong partner account").
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (key, re.compile(pattern, re.IGNORECASE))
    for key, pattern in (
        (
            "duplicate",
            r"duplicat|\bdouble\b|\btwice\b|already (posted|booked|entered|recorded)"
            r"|\bdupl|doppelt|bereits gebucht|već (pro)?knjižen",
        ),
        (
            "not_ours",
            r"not (ours|our|for us)|(other|another|wrong) (company|firm|entity)|\bprivate\b"
            r"|\bpersonal\b|does ?n[o']?t belong|nije naš|ne pripada|privat|nicht (unser|von uns)",
        ),
        (
            "wrong_partner",
            r"partner|supplier|vendor|customer|creditor|debtor|dobavlja|kupac|kupca|lieferant"
            r"|\bkunde|kreditor|debitor",
        ),
        ("wrong_date", r"\bdate\b|period|fiscal year|\bdatum|razdoblj|periode|zeitraum"),
        (
            "wrong_account",
            r"account|\bkont[oa]\b|\bgl\b|ledger|booked (to|on)|cost cent|mjesto troška",
        ),
        (
            "wrong_amount",
            r"amount|\bvat\b|\btax|\bnet\b|gross|\brate\b|rounding|\btotal|iznos|\bpdv\b"
            r"|porez|betrag|mwst|\bust\b|steuer|summe|\d\s?%",
        ),
    )
)
_PREFIX = re.compile(r"^\s*(?:\[([^\]]{1,40})\]|([^:\[\]]{1,40}):)\s*")


def reason_category(reason: str | None) -> str:
    """The category (a key of :data:`REASON_CATEGORIES`) of a rejection reason.

    An explicit category wins: the reason starts with ``"CATEGORY:"`` or ``"[CATEGORY]"``,
    a key, label or alias such as ``wrong account``, ``vat``, ``partner``, ``duplicate``,
    ``not ours``. Otherwise the first keyword group that matches, else ``other``.
    """
    text = (reason or "").strip()
    found = _PREFIX.match(text)
    if found:
        named = " ".join((found.group(1) or found.group(2)).lower().replace("_", " ").split())
        if named.replace(" ", "_") in REASON_CATEGORIES:
            return named.replace(" ", "_")
        if named in _ALIASES:
            return _ALIASES[named]
    for key, pattern in _KEYWORDS:
        if pattern.search(text):
            return key
    return "other"


def _line_key(line: Mapping[str, Any]) -> tuple[str, Decimal, Decimal]:
    def amount(value: object) -> Decimal:
        try:
            return Decimal(str(value if value not in (None, "") else "0"))
        except InvalidOperation:
            return Decimal("NaN")

    return (str(line.get("account", "")), amount(line.get("debit")), amount(line.get("credit")))


def lines_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """How many lines a person changed between two posting schemes (their JSON).

    Lines are compared on account, debit and credit (descriptions do not count), as
    multisets: a line only in ``before`` was removed, one only in ``after`` was added, and
    a changed line is one removed plus one added. The count is the larger of the two: a
    line whose account was corrected counts 1, a line added counts 1, two lines merged
    into one count 2.
    """
    old = Counter(_line_key(ln) for ln in (before or {}).get("lines") or [])
    new = Counter(_line_key(ln) for ln in (after or {}).get("lines") or [])
    return max(sum((old - new).values()), sum((new - old).values()))


@dataclass(frozen=True, slots=True)
class Judgement:
    """What people did with one drafted proposal."""

    proposal_id: str
    backend: str
    """The backend that drafted it (``"-"`` when the store does not say)."""
    model: str
    """The model or index version that drafted it (``"-"`` when unknown)."""
    kind: str
    """The document's kind."""
    outcome: Outcome
    created_at: dt.datetime
    decided_at: dt.datetime | None
    """When the final decision was made; ``None`` while waiting."""
    decided_by: str | None
    lines_changed: int | None
    """Lines changed before the approval (accepted after edits only)."""
    reason: str | None
    """The rejection's reason as written (rejected only)."""
    reason_category: str | None
    """Its category, a key of :data:`REASON_CATEGORIES` (rejected only)."""

    @property
    def seconds(self) -> float | None:
        """Seconds from the draft to its final decision by a person (``None`` otherwise)."""
        if self.decided_at is None or self.outcome in ("auto", "waiting"):
            return None
        return max(0.0, (self.decided_at - self.created_at).total_seconds())


def judge(
    proposal: StoredProposal, log: Sequence[StoredDecision], until: dt.datetime | None = None
) -> Judgement:
    """What became of ``proposal``, from its decision log (oldest first) up to ``until``."""
    auto_approver, system = system_users()
    log = [d for d in log if until is None or d.at < until]
    people = [d for d in log if d.user not in system]
    final = next((d for d in reversed(people) if d.action in ("approve", "reject")), None)
    edits = [d for d in people if d.action == "edit" and (final is None or d.id < final.id)]
    changed: int | None = None
    reason = category = None
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    outcome: Outcome
    if final is not None:
        decided_at, decided_by = final.at, final.user
        if final.action == "reject":
            outcome = "rejected"
            reason, category = final.reason, reason_category(final.reason)
        elif edits:
            outcome = "edited"
            changed = lines_changed(edits[0].before, final.after)
        else:
            outcome = "unchanged"
    else:
        auto = next((d for d in log if d.action == "approve" and d.user == auto_approver), None)
        if auto is not None:
            outcome, decided_at, decided_by = "auto", auto.at, auto.user
        else:
            outcome = "waiting"
    return Judgement(
        proposal_id=proposal.id,
        backend=proposal.backend or "-",
        model=proposal.model or "-",
        kind=proposal.document_kind or "-",
        outcome=outcome,
        created_at=proposal.created_at,
        decided_at=decided_at,
        decided_by=decided_by,
        lines_changed=changed,
        reason=reason,
        reason_category=category,
    )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def read_judgements(
    store: ProposalStore, since: dt.date | None = None, until: dt.date | None = None
) -> list[Judgement]:
    """The judgements of the proposals decided from ``since`` to ``until`` (both inclusive,
    UTC dates), and of those drafted then and still waiting.

    Reads the store's proposals and decision log in bulk (a few queries of at most 500 ids
    each), oldest proposal first.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ledgerpilot.review.models import DecisionRow, ProposalRow, StoredDecision, StoredProposal

    start = _day_start(since) if since is not None else None
    end = _day_start(until + dt.timedelta(days=1)) if until is not None else None

    def within(column: Any) -> list[Any]:
        found = []
        if start is not None:
            found.append(column >= start)
        if end is not None:
            found.append(column < end)
        return found

    with Session(store.engine) as session:
        decided = select(DecisionRow.proposal_id).where(
            DecisionRow.action.in_(("approve", "reject")), *within(DecisionRow.at)
        )
        drafted = select(ProposalRow.id).where(*within(ProposalRow.created_at))
        ids = sorted(set(session.scalars(decided)) | set(session.scalars(drafted)))
        proposals: list[StoredProposal] = []
        logs: dict[str, list[StoredDecision]] = {}
        for first in range(0, len(ids), 500):
            chunk = ids[first : first + 500]
            proposals.extend(
                StoredProposal.of(row)
                for row in session.scalars(select(ProposalRow).where(ProposalRow.id.in_(chunk)))
            )
            query = select(DecisionRow).where(DecisionRow.proposal_id.in_(chunk))
            if end is not None:
                query = query.where(DecisionRow.at < end)
            for row in session.scalars(query.order_by(DecisionRow.id)):
                logs.setdefault(row.proposal_id, []).append(StoredDecision.of(row))
    proposals.sort(key=lambda p: (p.created_at, p.id))
    judged = [judge(p, logs.get(p.id, []), end) for p in proposals]
    return [j for j in judged if _in_period(j, start, end)]


def _in_period(j: Judgement, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    when = j.decided_at if j.decided_at is not None else j.created_at
    return (start is None or when >= start) and (end is None or when < end)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation between the closest
    ranks (Hyndman and Fan's type 7, numpy's default): ``x[h]`` with ``h = (n - 1) q``,
    interpolated between ``x[floor h]`` and ``x[ceil h]``. ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low, high = math.floor(h), math.ceil(h)
    return ordered[low] + (ordered[high] - ordered[low]) * (h - low)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(judgements: Sequence[Judgement]) -> dict[str, Any]:
    """The figures of one group of judgements (see :func:`human_report`)."""
    outcomes = Counter(j.outcome for j in judgements)
    decided = outcomes["unchanged"] + outcomes["edited"] + outcomes["rejected"]
    changed = [j.lines_changed for j in judgements if j.lines_changed is not None]
    seconds = [s for j in judgements if (s := j.seconds) is not None]
    reasons = Counter(j.reason_category for j in judgements if j.reason_category is not None)
    median, p90 = quantile(seconds, 0.5), quantile(seconds, 0.9)
    return {
        "decided": decided,
        "accepted_unchanged": outcomes["unchanged"],
        "accepted_edited": outcomes["edited"],
        "rejected": outcomes["rejected"],
        "auto_approved": outcomes["auto"],
        "waiting": outcomes["waiting"],
        "acceptance": _share(outcomes["unchanged"] + outcomes["edited"], decided),
        "unchanged_share": _share(outcomes["unchanged"], decided),
        "lines_changed": {
            "total": sum(changed),
            "mean": round(sum(changed) / len(changed), 4) if changed else None,
            "max": max(changed) if changed else None,
        },
        "reasons": {key: reasons[key] for key in REASON_CATEGORIES if reasons[key]},
        "time_to_decision": {
            "decisions": len(seconds),
            "median_seconds": None if median is None else round(median, 3),
            "p90_seconds": None if p90 is None else round(p90, 3),
        },
    }


def human_report(
    judgements: Iterable[Judgement], since: dt.date | None = None, until: dt.date | None = None
) -> dict[str, Any]:
    """The report of ``ledgerpilot eval human --json``.

    ``{"from", "to", "proposals", "reason_categories", "backends", "groups"}``:
    ``backends`` has one entry per backend and model (``kind`` is ``"all"``), ``groups``
    one per backend, model and document kind; each with ``decided`` (accepted or rejected
    by a person), ``accepted_unchanged``, ``accepted_edited``, ``rejected``,
    ``auto_approved``, ``waiting``, ``acceptance`` and ``unchanged_share`` (of the decided),
    ``lines_changed`` (``total``, ``mean`` and ``max`` over the edited), ``reasons``
    (rejections per category) and ``time_to_decision`` (``decisions``, ``median_seconds``,
    ``p90_seconds``).
    """
    items = list(judgements)
    by_model: dict[tuple[str, str], list[Judgement]] = {}
    by_kind: dict[tuple[str, str, str], list[Judgement]] = {}
    for j in items:
        by_model.setdefault((j.backend, j.model), []).append(j)
        by_kind.setdefault((j.backend, j.model, j.kind), []).append(j)
    return {
        "from": None if since is None else since.isoformat(),
        "to": None if until is None else until.isoformat(),
        "proposals": len(items),
        "reason_categories": dict(REASON_CATEGORIES),
        "backends": [
            {"backend": b, "model": m, "kind": "all", **summarize(group)}
            for (b, m), group in sorted(by_model.items())
        ],
        "groups": [
            {"backend": b, "model": m, "kind": k, **summarize(group)}
            for (b, m, k), group in sorted(by_kind.items())
        ],
    }


def duration(seconds: float | None) -> str:
    """A time to decision as people say it: ``45s``, ``12m``, ``3h 05m``, ``2d 4h``."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def plot_human_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Draw, per backend and model, the share of drafts accepted unchanged, accepted after
    edits and rejected (stacked bars, counts on them) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report["backends"] if r["decided"]]
    labels = [f"{r['backend']}\n{r['model']}"[:60] for r in rows]
    parts = (
        ("accepted_unchanged", "accepted unchanged", "#2e7d32"),
        ("accepted_edited", "accepted after edits", "#f9a825"),
        ("rejected", "rejected", "#c62828"),
    )
    figure, axes = plt.subplots(figsize=(max(7.5, 1.6 * len(rows) + 4), 4.2), dpi=100)
    try:
        bottoms = [0.0] * len(rows)
        for key, label, colour in parts:
            shares = [r[key] / r["decided"] for r in rows]
            bars = axes.bar(labels, shares, bottom=bottoms, label=label, color=colour)
            axes.bar_label(
                bars, labels=[str(r[key]) if r[key] else "" for r in rows], label_type="center"
            )
            bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
        axes.set_ylim(0, 1)
        axes.set_ylabel("share of drafts decided by a person")
        axes.set_title("What accountants did with the drafts")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(out)
    finally:
        plt.close(figure)
    return out
