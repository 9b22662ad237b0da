from pathlib import Path

import pytest

from ledgerpilot.ledger import AccountType, ChartOfAccounts
from ledgerpilot.ledger.accounts import tax_codes_from_odoo_taxes

CHARTS = Path(__file__).resolve().parents[2] / "ledgerpilot" / "charts"


def test_lookup_by_code_and_class_prefix(chart: ChartOfAccounts) -> None:
    assert chart.get("6100") is not None
    assert chart["6100"].name == "Rent"
    assert chart["6100"].type is AccountType.EXPENSE
    assert chart.get("9999") is None
    assert "1000" in chart and "9999" not in chart
    assert [a.code for a in chart.by_prefix("6")] == ["6000", "6100"]
    assert chart["6100"].account_class == "61"


def test_group_accounts_are_not_postable(chart: ChartOfAccounts) -> None:
    assert chart["40"].postable is False
    assert chart["4000"].postable is True


def test_roles_are_inferred_from_types_and_names(chart: ChartOfAccounts) -> None:
    assert chart.with_role("liquidity") == {"1000"}
    assert chart.with_role("receivable") == {"1200"}
    assert chart.with_role("payable") == {"2000"}
    assert chart.with_role("tax") == {"1400", "2400"}


def test_explicit_columns_override_inference() -> None:
    text = "code,name,account_type,postable,role\n1400,Input VAT,asset_current,False,\n"
    account = ChartOfAccounts.from_csv(text)["1400"]
    assert account.postable is False
    assert account.role is None


def test_csv_round_trip(chart: ChartOfAccounts) -> None:
    again = ChartOfAccounts.from_csv(chart.to_csv())
    assert again.accounts == chart.accounts


def test_bad_chart_csv_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lacks the column"):
        ChartOfAccounts.from_csv("code,name\n1,x\n")
    with pytest.raises(ValueError, match="account 1 twice"):
        ChartOfAccounts.from_csv("code,name,account_type\n1,x,expense\n1,y,expense\n")


def test_shipped_charts_load_with_roles() -> None:
    hr_csv = (CHARTS / "hr" / "accounts.csv").read_text()
    taxes = tax_codes_from_odoo_taxes((CHARTS / "hr" / "taxes.csv").read_text(), hr_csv)
    hr = ChartOfAccounts.from_csv(hr_csv, taxes)
    assert len(hr) == 554
    assert {"140000", "140012", "240000"} <= hr.with_role("tax")
    assert "641000" not in hr.with_role("tax")  # "VAT included in value of goods"
    assert "243000" not in hr.with_role("tax")  # "Income tax payable, ..." is not VAT
    assert "100000" in hr.with_role("liquidity")
    assert hr["240000"].local_name is not None

    skr03 = ChartOfAccounts.from_csv((CHARTS / "de_skr03" / "accounts.csv").read_text())
    assert len(skr03) == 1304  # the stray trailing row of the Odoo file is skipped
    assert {"1576", "1776"} <= skr03.with_role("tax")
    assert "8400" not in skr03.with_role("tax")  # "Revenue, 19 % VAT" is revenue
    assert {"1210", "1100"} <= skr03.with_role("liquidity")
    assert [a.code for a in skr03 if not a.postable] == ["0380", "0410"]

    generic = ChartOfAccounts.from_csv((CHARTS / "generic" / "accounts.csv").read_text())
    assert generic.with_role("tax") == {"1310", "1320", "2510", "2520"}
    assert generic.with_role("payable") == {"2110"}
