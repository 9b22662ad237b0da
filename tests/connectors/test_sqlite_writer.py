"""The helper process that writes bulk batches into SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.connectors import loading as loading_module
from ledgerpilot.connectors.sqlite_writer import SqliteWriter, WriterFailed
from ledgerpilot.ledger import ChartOfAccounts

from .test_reference import POSTED, _file_documents

PARTNER_COLUMNS = ["id", "external_id", "name", "vat", "country"]


def test_batches_are_committed_in_order(tmp_path: Path) -> None:
    path = tmp_path / "ais.sqlite"
    ReferenceAIS.create(f"sqlite:///{path}").close()
    writer = SqliteWriter(path)
    first = writer.submit([("partners", PARTNER_COLUMNS, [(1, "P1", "One", None, None)])], [], 3)
    writer.submit(
        [("partners", PARTNER_COLUMNS, [(2, "P2", "Two", "HR1", "HR")])],
        [("Uno", None, "IT", 1)],
        4,
    )
    assert first + writer.finish() == 7
    with ReferenceAIS(f"sqlite:///{path}") as ais, ais.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM partners ORDER BY id").all()
    assert [tuple(r) for r in rows] == [(1, "P1", "Uno", None, "IT"), (2, "P2", "Two", "HR1", "HR")]


def test_a_failed_batch_stops_the_writing(tmp_path: Path) -> None:
    path = tmp_path / "ais.sqlite"
    ReferenceAIS.create(f"sqlite:///{path}").close()
    writer = SqliteWriter(path)
    try:
        writer.submit([("partners", PARTNER_COLUMNS, [(1, "P1", "One", None, None)])], [], 1)
        writer.submit([("partners", PARTNER_COLUMNS, [(1, "P2", "Two", None, None)])], [], 1)
        writer.submit([("partners", PARTNER_COLUMNS, [(5, "P5", "Five", None, None)])], [], 1)
        with pytest.raises(WriterFailed, match="another program wrote to partners"):
            writer.finish()
    finally:
        writer.close()
    with ReferenceAIS(f"sqlite:///{path}") as ais:
        assert ais.summary().partners == 1


@pytest.mark.parametrize("helper_after", [None, 0, 1])
def test_loads_agree_with_and_without_the_helper(
    sqlite_url: str,
    chart: ChartOfAccounts,
    monkeypatch: pytest.MonkeyPatch,
    helper_after: int | None,
) -> None:
    monkeypatch.setattr(loading_module, "HELPER_AFTER_BATCHES", helper_after)
    docs = list(_file_documents().values())
    seen: list[int] = []
    with ReferenceAIS.create(sqlite_url) as ais:
        report = ais.load(docs + docs[:3], chart=chart, batch_size=4, on_progress=seen.append)
        assert (report.inserted, report.skipped, report.entries, report.lines) == (12, 3, 9, 23)
        assert seen[-1] == 15 and seen == sorted(seen)
        assert [d.id for d in ais.history()] == POSTED
        summary = ais.summary()
        assert (summary.documents, summary.journal_lines, summary.partners) == (12, 23, 6)
        with ais.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
