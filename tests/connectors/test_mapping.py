"""The declarative mapping on the reference schema itself, and the mapping file's validation.

``mappings/reference.toml`` describes the reference schema in the mapping format; read
through it, a synthetic company must come back exactly as :class:`ReferenceAIS` reads it,
and entries posted through either connector must read alike through both, with the same
idempotency and the same refusals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from ledgerpilot.connectors import (
    AIS,
    AlreadyPosted,
    DocumentNotFound,
    EntryRefused,
    MappedAIS,
    MappingError,
    PostingConflict,
    PostingError,
    ReferenceAIS,
    load_mapping,
    open_ais,
)
from ledgerpilot.synth import SyntheticCompany, generate

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_MAPPING = ROOT / "mappings" / "reference.toml"


@pytest.fixture(scope="module")
def synthetic() -> SyntheticCompany:
    return generate("generic", years=1, inbox=6, seed=11, per_year=150)


@pytest.fixture
def reference(empty_ais: ReferenceAIS, synthetic: SyntheticCompany) -> ReferenceAIS:
    """The synthetic company in the reference schema (SQLite, then PostgreSQL)."""
    report = empty_ais.load(synthetic.history(), chart=synthetic.chart)
    assert not report.rejected
    empty_ais.load(synthetic.inbox)
    return empty_ais


def test_the_reference_mapping_reads_what_reference_ais_reads(reference: ReferenceAIS) -> None:
    with open_ais(reference.url, REFERENCE_MAPPING) as mapped:
        assert isinstance(mapped, MappedAIS)
        assert isinstance(mapped, AIS)
        assert mapped.chart() == reference.chart()
        assert mapped.pending_documents() == reference.pending_documents()
        assert mapped.pending_documents(limit=2) == reference.pending_documents(limit=2)
        history = list(reference.history())
        assert len(history) > 300
        assert list(mapped.history()) == history
        assert list(mapped.all_documents()) == list(reference.all_documents())
        middle = history[len(history) // 2].date
        for since, until in ((middle, None), (None, middle), (middle, middle + dt.timedelta(40))):
            assert list(mapped.history(since, until)) == list(reference.history(since, until))
            assert mapped.count_history(since, until) == reference.count_history(since, until)
        for doc in (history[0], history[-1], reference.pending_documents()[0]):
            assert mapped.get_document(doc.id) == reference.get_document(doc.id) == doc
        assert mapped.get_document("nothing-like-it") is None


def test_entries_posted_through_either_connector_read_alike_through_both(
    reference: ReferenceAIS, synthetic: SyntheticCompany
) -> None:
    one, two, three = synthetic.truth[:3]
    assert one.entry and two.entry and three.entry
    with open_ais(reference.url, REFERENCE_MAPPING) as mapped:
        by_mapping = mapped.post_entry(one.id, one.entry, "key-one", "ana")
        by_reference = reference.post_entry(two.id, two.entry, "key-two", "bo")
        assert by_mapping.created and by_reference.created
        # Each recognises the other's key: at most one entry per key, whoever posted it.
        assert reference.post_entry(one.id, one.entry, "key-one").created is False
        assert mapped.post_entry(two.id, two.entry, "key-two").created is False
        assert mapped.post_entry(one.id, one.entry, "key-one").entry_id == by_mapping.entry_id
        for doc_id in (one.id, two.id):
            assert mapped.get_document(doc_id) == reference.get_document(doc_id)
        posted = reference.get_document(one.id)
        assert posted is not None and posted.entry is not None
        assert posted.entry.lines == one.entry.lines
        assert posted.entry.posted_by == "ana"
        assert posted.entry.id == by_mapping.entry_id

        before = reference.count_history()
        with pytest.raises(PostingConflict):
            mapped.post_entry(three.id, three.entry, "key-one")
        with pytest.raises(AlreadyPosted, match="key-two"):
            mapped.post_entry(two.id, two.entry, "key-other")
        with pytest.raises(DocumentNotFound):
            mapped.post_entry("no-such-document", three.entry, "key-three")
        unbalanced = dataclasses.replace(three.entry, lines=three.entry.lines[:-1])
        with pytest.raises(EntryRefused) as refused:
            mapped.post_entry(three.id, unbalanced, "key-three")
        assert {v.code for v in refused.value.violations} >= {"unbalanced"}
        with pytest.raises(PostingError, match="posting key"):
            mapped.post_entry(three.id, three.entry, "")
        assert reference.count_history() == before  # nothing was written by the refusals
        assert mapped.pending_documents() == reference.pending_documents()
        assert three.id in {d.id for d in mapped.pending_documents()}


def test_a_mapping_without_write_is_read_only(
    reference: ReferenceAIS, synthetic: SyntheticCompany, tmp_path: Path
) -> None:
    text = REFERENCE_MAPPING.read_text(encoding="utf-8")
    path = tmp_path / "read-only.toml"
    path.write_text(text[: text.index("# Posting:")], encoding="utf-8")
    first = synthetic.truth[0]
    assert first.entry is not None
    with open_ais(reference.url, path) as mapped:
        assert mapped.chart() == reference.chart()
        with pytest.raises(PostingError, match=r"no \[write\] section"):
            mapped.post_entry(first.id, first.entry, "key-one")
        report = mapped.check()
    assert report.ok
    assert any(i.severity == "warning" and "cannot post" in i.message for i in report.items)


# ------------------------------------------------------------------ the file's validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('total_gross = "total_gross"', 'total_gros = "total_gross"'),
            "unknown key 'documents.columns.total_gros'",
        ),
        (('total_gross = "total_gross"', ""), "missing key 'documents.columns.total_gross'"),
        (
            ('[accounts]\ntable = "accounts"', '[accounts]\ntable = "accounts"\ncolour = "red"'),
            "unknown key 'accounts.colour'",
        ),
        (
            (
                'type = "account_type"',
                'type = "account_type"\n[accounts.type_values]\nA = "assets"',
            ),
            "'A' maps to 'assets', which is no account type",
        ),
        (('debit = "debit"\n', ""), "give either debit and credit, or one signed amount"),
        (('partner = "partner_id"\n', ""), "documents.columns.partner and [partners] go together"),
        (('posting_key = ":posting_key"', 'posting_key = "NULL"'), "must store :posting_key"),
        (('credit = ":credit"', 'credit = ":kredit"'), "unknown parameter :kredit"),
        (
            ('posting_key = "posting_key"\n', ""),
            "[write] needs journal_entries.columns.posting_key",
        ),
    ],
)
def test_a_bad_mapping_file_is_refused_naming_the_file_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    text = REFERENCE_MAPPING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MappingError) as refused:
        load_mapping(path)
    assert str(path) in str(refused.value)
    assert message in str(refused.value)


def test_a_mapping_that_is_not_toml_or_not_there_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[accounts\ntable = ", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(broken)
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "missing.toml")


def test_the_shipped_mappings_are_valid() -> None:
    for path in sorted((ROOT / "mappings").glob("*.toml")):
        assert load_mapping(path).source == path


def test_open_ais_picks_the_connector(reference: ReferenceAIS) -> None:
    with open_ais(reference.url) as plain:
        assert isinstance(plain, ReferenceAIS)
    with open_ais(f"tryton+{reference.url}", REFERENCE_MAPPING) as mapped:
        # A mapping reads the tables itself: the tryton+ prefix is dropped.
        assert isinstance(mapped, MappedAIS)
        assert mapped.chart() == reference.chart()
