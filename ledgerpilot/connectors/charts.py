"""Charts of accounts from files: a company's CSV, or one of the charts ledgerpilot ships."""

from __future__ import annotations

from pathlib import Path

from ledgerpilot.charts import AVAILABLE_CHARTS, chart_path, taxes_path
from ledgerpilot.ledger import ChartOfAccounts
from ledgerpilot.ledger.accounts import tax_codes_from_odoo_taxes


def read_chart(path: Path, taxes: Path | None = None) -> ChartOfAccounts:
    """Read a chart CSV (Odoo template format or ours); ``taxes``: an Odoo ``taxes.csv``.

    The tax file, when given, says exactly which accounts take VAT (the ``tax`` role).
    Raises ``ValueError`` for a malformed chart, ``OSError`` for an unreadable file.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    tax_codes: frozenset[str] = frozenset()
    if taxes is not None:
        tax_codes = tax_codes_from_odoo_taxes(Path(taxes).read_text(encoding="utf-8-sig"), text)
    return ChartOfAccounts.from_csv(text, tax_codes)


def builtin_chart(name: str) -> ChartOfAccounts:
    """One of the charts shipped in ``ledgerpilot/charts`` (``hr``, ``generic``, ``de_skr03``).

    Raises ``ValueError`` naming the available charts for an unknown ``name``.
    """
    if name not in AVAILABLE_CHARTS:
        raise ValueError(
            f"there is no built-in chart {name!r}; the built-in charts are "
            f"{', '.join(AVAILABLE_CHARTS)}"
        )
    return read_chart(chart_path(name), taxes_path(name))
