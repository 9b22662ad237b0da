"""The approval queue: filters, the attention order, pages; and claims on documents."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from ledgerpilot.ledger import Violation
from ledgerpilot.review import QueueFilter, StoreError
from ledgerpilot.review.store import ProposalStore

from .store_kit import add_people, outcome

V = Violation("tax_mismatch", "VAT booked is 0.00, the document's VAT is 250.00")
W = Violation("unknown_account", "account 9999 is not in the chart", 2)

DRAFTS = [
    # id, document, kind, partner, status drafted, violations, confidence
    ("p01", "SI-1", "supplier_invoice", "Office Rent Ltd", "proposed", (), 0.95),
    ("p02", "SI-2", "supplier_invoice", "Power & Light plc", "proposed", (), 0.60),
    ("p03", "SI-3", "supplier_invoice", "office depot", "needs_review", (V, W), 0.70),
    ("p04", "SI-4", "supplier_invoice", "Office Rent Ltd", "needs_review", (V,), 0.40),
    ("p05", "CI-1", "customer_invoice", "Acme 100% Ltd", "quarantined", (), None),
    ("p06", "CI-2", "customer_invoice", "Acme_Trading", "needs_review", (W,), 0.40),
    ("p07", "BS-1", "bank_statement", None, "proposed", (), 0.99),
    ("p08", "CI-3", "customer_invoice", "Beta", "proposed", (), 0.80),
    ("p09", "SI-5", "supplier_invoice", "Gamma", "proposed", (), 0.90),
]
"""Drafted in this order; then p07 is approved, p08 rejected, p09 approved and posted."""

ATTENTION = ["p05", "p03", "p04", "p06", "p02", "p01", "p07", "p08", "p09"]
"""Quarantined; needs review (more violations, then lower confidence, then older first);
proposed (lower confidence first); approved; then rejected and posted, oldest first."""


@pytest.fixture
def queue(store: ProposalStore) -> ProposalStore:
    """A store holding :data:`DRAFTS`."""
    add_people(store)
    for pid, doc, kind, partner, status, violations, confidence in DRAFTS:
        store.save_draft(
            outcome(
                doc,
                status=status,
                proposal_id=pid,
                document_kind=kind,
                partner_name=partner,
                violations=violations,
                confidence=confidence,
            )
        )
    store.approve("p07", user="ana")
    store.reject("p08", user="ana", reason="a duplicate")
    store.approve("p09", user="ana")
    store.mark_posted("p09", "4711", "worker")
    return store


def ids(store: ProposalStore, where: QueueFilter | None = None, **options: object) -> list[str]:
    """The proposal ids of one page of the queue."""
    return [p.id for p in store.queue(where, **options).items]  # type: ignore[arg-type]


def test_what_needs_attention_comes_first(queue: ProposalStore) -> None:
    page = queue.queue()
    assert [p.id for p in page.items] == ATTENTION
    assert (page.total, page.page, page.per_page, page.pages) == (9, 1, 50, 1)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (QueueFilter(status="needs_review"), ["p03", "p04", "p06"]),
        (QueueFilter(status=("proposed", "needs_review")), ["p03", "p04", "p06", "p02", "p01"]),
        (QueueFilter(kind="customer_invoice"), ["p05", "p06", "p08"]),
        (QueueFilter(kind="credit_note"), []),
        (QueueFilter(partner="OFFICE"), ["p03", "p04", "p01"]),
        (QueueFilter(partner="me_"), ["p06"]),  # "_" is a character here, not a wildcard
        (QueueFilter(partner="100%"), ["p05"]),
        (QueueFilter(min_confidence=0.9), ["p01", "p07", "p09"]),
        (QueueFilter(max_confidence=0.5), ["p05", "p04", "p06"]),
        (QueueFilter(min_confidence=0.6, max_confidence=0.8), ["p03", "p02", "p08"]),
        (QueueFilter(has_violations=True), ["p03", "p04", "p06"]),
        (QueueFilter(has_violations=False), ["p05", "p02", "p01", "p07", "p08", "p09"]),
        (QueueFilter(text="si-"), ["p03", "p04", "p02", "p01", "p09"]),
        (QueueFilter(text="acme"), ["p05", "p06"]),
        (QueueFilter(kind="supplier_invoice", has_violations=True), ["p03", "p04"]),
    ],
)
def test_filters(queue: ProposalStore, where: QueueFilter, expected: list[str]) -> None:
    page = queue.queue(where)
    assert [p.id for p in page.items] == expected
    assert page.total == len(expected)


def test_pages_and_orders(queue: ProposalStore) -> None:
    pages = [queue.queue(page=n, per_page=4) for n in (1, 2, 3, 4)]
    assert [[p.id for p in page.items] for page in pages] == [
        ATTENTION[:4],
        ATTENTION[4:8],
        ATTENTION[8:],
        [],
    ]
    assert {(page.total, page.pages) for page in pages} == {(9, 3)}
    oldest = [pid for pid, *_ in DRAFTS]
    assert ids(queue, sort="oldest") == oldest
    assert ids(queue, sort="newest") == oldest[::-1]
    assert ids(queue, QueueFilter(kind="customer_invoice"), sort="newest", per_page=2) == [
        "p08",
        "p06",
    ]


def test_the_order_follows_decisions(queue: ProposalStore) -> None:
    queue.edit("p02", user="carl", scheme={"lines": []}, violations=[V, W, W])
    queue.edit("p03", user="carl", scheme={"lines": []}, violations=[])
    assert ids(queue, QueueFilter(status="needs_review")) == ["p02", "p04", "p06", "p03"]
    assert ids(queue, QueueFilter(has_violations=False, status="needs_review")) == ["p03"]
    [edited] = queue.queue(QueueFilter(text="SI-2")).items
    assert edited.edited and edited.status == "needs_review"


def test_a_bad_query_is_refused(queue: ProposalStore) -> None:
    with pytest.raises(StoreError, match="sort must be one of attention, oldest, newest"):
        queue.queue(sort="best")
    with pytest.raises(StoreError, match="pages count from 1"):
        queue.queue(page=0)
    with pytest.raises(StoreError, match="a page holds 1 to 1000"):
        queue.queue(per_page=1001)
    with pytest.raises(StoreError, match="status must be one of"):
        queue.queue(QueueFilter(status="open"))


def test_kinds(queue: ProposalStore) -> None:
    assert queue.kinds() == ["bank_statement", "customer_invoice", "supplier_invoice"]


# ------------------------------------------------------------ claims


def test_a_document_is_claimed_once(store: ProposalStore) -> None:
    assert store.claim(["D-2", "D-1", "D-2"], by="poll:1") == ["D-2", "D-1"]
    assert store.claim(["D-1", "D-3"], by="poll:2") == ["D-3"]
    assert store.claim([], by="poll:2") == []
    assert store.unclaim(["D-1", "D-9"]) == 1
    assert store.claim(["D-1", "D-2"], by="poll:3") == ["D-1"]


def test_only_claims_older_than_the_limit_are_claimed_again(store: ProposalStore) -> None:
    assert store.claim(["D-1", "D-2"], by="poll:1") == ["D-1", "D-2"]
    # Claimed just now: a draft may still be on its way, so nothing moves.
    assert store.reclaim_stale(["D-1", "D-2"], dt.timedelta(minutes=15), by="poll:2") == []
    # Every claim is older than no time at all; unclaimed documents are not claimed here.
    moved = store.reclaim_stale(["D-2", "D-1", "D-9"], dt.timedelta(0), by="poll:2")
    assert moved == ["D-2", "D-1"]
    assert store.claim(["D-1", "D-9"], by="poll:3") == ["D-9"]


def test_claims_at_once_hand_each_document_to_one_poller(url: str, store: ProposalStore) -> None:
    documents = [f"D-{n}" for n in range(1200)]  # more than one chunk of 500
    pollers = 4
    start = threading.Barrier(pollers)
    claimed: list[list[str] | Exception] = [[] for _ in range(pollers)]

    def poll(n: int) -> None:
        with ProposalStore(url) as mine:
            start.wait()
            try:  # each poller in its own order
                claimed[n] = mine.claim(documents[n * 100 :] + documents[: n * 100], f"poll:{n}")
            except Exception as exc:  # a deadlock, say: the assertions below show it
                claimed[n] = exc

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lists = [found for found in claimed if isinstance(found, list)]
    assert len(lists) == pollers, claimed
    assert sum(len(found) for found in lists) == len(documents)
    assert sorted(doc for found in lists for doc in found) == sorted(documents)
