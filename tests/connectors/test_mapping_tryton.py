"""``mappings/tryton.toml`` on a real Tryton database, compared with the Tryton connector.

The database is the Tryton connector's test database (:mod:`tests.connectors.tryton_kit`:
built once by Tryton itself, cached, copied here). Read through the declarative mapping,
its invoices and posted moves must come back as :class:`TrytonAIS` reads them: the format
proven on a second real schema. The chart is compared where both read the same thing:
codes, names, what is postable, and the types of postable accounts, which the mapping
takes from a value map over Tryton's type names and the connector from its type tree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("trytond", reason="the tryton extra is not installed")

from ledgerpilot.connectors import MappedAIS, check_ais, open_ais
from ledgerpilot.connectors.tryton import open_tryton
from ledgerpilot.ledger import AccountType, Document
from ledgerpilot.sqlplumbing import to_utc
from tests.connectors import tryton_kit as kit

TRYTON_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "tryton.toml"


@pytest.fixture(scope="module")
def tryton_copy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The plain SQLAlchemy URL of a copy of the built Tryton database."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tryton") if cache is not None else tmp_path_factory.mktemp("tryton")
    built, _ = kit.built_database(Path(folder))
    work = tmp_path_factory.mktemp("tryton_mapping")
    yield kit.copy_of(built, work, f"mapping_{work.name}").removeprefix("tryton+")


def _same_time(doc: Document) -> Document:
    """``doc`` with its entry's time in UTC (the connector reads Tryton's post date naive)."""
    if doc.entry is None or doc.entry.posted_at is None:
        return doc
    entry = dataclasses.replace(doc.entry, posted_at=to_utc(doc.entry.posted_at))
    return dataclasses.replace(doc, entry=entry)


def test_the_tryton_mapping_reads_what_the_tryton_connector_reads(tryton_copy: str) -> None:
    with (
        open_tryton(f"tryton+{tryton_copy}") as connector,
        open_ais(tryton_copy, TRYTON_MAPPING) as mapped,
    ):
        assert isinstance(mapped, MappedAIS)
        history = [_same_time(d) for d in connector.history()]
        assert len(history) > 50
        assert [_same_time(d) for d in mapped.history()] == history
        assert mapped.count_history() == connector.count_history()
        assert mapped.pending_documents() == connector.pending_documents()
        some = history[len(history) // 2]
        found = mapped.get_document(some.id)
        assert found is not None and _same_time(found) == some

        theirs = {a.code: a for a in connector.chart()}
        ours = mapped.chart()
        assert {a.code for a in ours} == set(theirs)
        for account in ours:
            other = theirs[account.code]
            assert (account.name, account.postable, account.reconcile) == (
                other.name,
                other.postable,
                other.reconcile,
            )
        postable = [a for a in ours if a.postable]
        assert all(isinstance(a.type, AccountType) for a in postable)
        agree = sum(a.type == theirs[a.code].type for a in postable)
        assert agree >= 0.95 * len(postable), [
            (a.code, a.type, theirs[a.code].type) for a in postable if a.type != theirs[a.code].type
        ]


def test_ais_check_finds_the_tryton_mapping_sound_and_read_only(tryton_copy: str) -> None:
    report = check_ais(tryton_copy, TRYTON_MAPPING)
    assert report.ok, [i for i in report.items if i.severity == "error"]
    warnings = [i.message for i in report.items if i.severity == "warning"]
    assert any("cannot post" in w for w in warnings)
    assert not any("without a type" in w for w in warnings)
