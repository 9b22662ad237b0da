"""Charts from files and the charts shipped with ledgerpilot."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerpilot.charts import chart_path, taxes_path
from ledgerpilot.connectors import builtin_chart, read_chart
from ledgerpilot.ledger import ChartOfAccounts
from ledgerpilot.ledger.accounts import tax_codes_from_odoo_taxes


def _hr_tax_codes() -> frozenset[str]:
    taxes = taxes_path("hr")
    assert taxes is not None
    return tax_codes_from_odoo_taxes(taxes.read_text(), chart_path("hr").read_text())


def test_builtin_charts() -> None:
    generic = builtin_chart("generic")
    assert (len(generic), generic.with_role("tax")) == (
        45,
        frozenset({"1310", "1320", "2510", "2520"}),
    )
    assert generic.with_role("liquidity") == frozenset({"201100"})
    hr = builtin_chart("hr")
    assert len(hr) == 554
    assert hr["240000"].role == "tax"
    assert hr["240000"].local_name is not None
    assert len(builtin_chart("de_skr03")) == 1304


def test_the_tax_file_gives_the_tax_role() -> None:
    codes = _hr_tax_codes()
    assert len(codes) == 24
    without_taxes = read_chart(chart_path("hr"))
    with_taxes = read_chart(chart_path("hr"), taxes_path("hr"))
    assert with_taxes == builtin_chart("hr")
    assert codes <= with_taxes.with_role("tax")
    assert not codes <= without_taxes.with_role("tax")  # 140000 and others: the file's word


def test_unknown_builtin_chart() -> None:
    with pytest.raises(
        ValueError,
        match="there is no built-in chart 'fr'; the built-in charts are hr, generic, de_skr03",
    ):
        builtin_chart("fr")


def test_read_chart_of_our_own_format(tmp_path: Path) -> None:
    path = tmp_path / "chart.csv"
    path.write_text(
        "\ufeffcode,name,account_type,postable,role\n"
        "40,Revenue,income,False,\n4000,Sales,income,True,\n"
        "1000,Bank,asset_current,True,liquidity\n",
        encoding="utf-8",
    )
    chart = read_chart(path)
    assert [(a.code, a.postable, a.role) for a in chart] == [
        ("40", False, None),
        ("4000", True, None),
        ("1000", True, "liquidity"),
    ]
    assert ChartOfAccounts.from_csv(chart.to_csv()) == chart
