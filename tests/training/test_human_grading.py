"""``ledgerpilot eval human-import``: graded sheets un-blinded, scored and compared.

The key and the sheets are written here by hand, as ``human-sample`` writes them and as
graders fill them in, so that every figure can be worked out on paper; the workings are
in the comments.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledgerpilot.cli import app
from ledgerpilot.training.grading import (
    COLUMNS,
    KEY_FORMAT,
    SheetError,
    bootstrap_mean_interval,
    cohen_kappa,
    fleiss_kappa,
    grade_report,
    parse_grade,
    read_key,
    read_sheets,
    wilson_interval,
)

TOKEN = "KQZTB"
MEMORY = ["correct"] * 8 + ["minor fix", "wrong"]
LLM = ["correct"] * 5 + ["minor fix"] * 3 + ["wrong"] * 2
"""Ana's grades of the ten documents' two candidates."""
BOB_CHANGES = {1: "minor fix", 2: "minor fix", 9: "wrong", 19: "correct"}
"""Where Bob grades differently from Ana (by row number): two of Ana's correct he calls a
minor fix, her minor fix (memory, D9) he calls wrong, her wrong (llm, D10) he calls correct."""


def row_id(n: int) -> str:
    return f"{TOKEN}-{n:03d}"


def make_key(path: Path) -> Path:
    """Ten documents, memory as candidate A and llm as B on odd documents, the other way
    round on even ones: rows 1-10 are memory's, 11-20 llm's (ids need not follow order)."""
    rows: dict[str, Any] = {}
    for d in range(1, 11):
        for n, source in ((d, "memory"), (10 + d, "llm")):
            letter = "A" if (source == "memory") == (d % 2 == 1) else "B"
            rows[row_id(n)] = {
                "document": f"D{d}",
                "kind": "supplier_invoice",
                "candidate": letter,
                "source": source,
                "model": "memory:9@2024-12-31" if source == "memory" else "ledger-7b",
                "status": "proposed",
            }
    key = {"format": KEY_FORMAT, "sheet": TOKEN, "sources": ["memory", "llm"], "rows": rows}
    path.write_text(json.dumps(key), encoding="utf-8")
    return path


def grades_of(changes: dict[int, str] | None = None) -> dict[int, str]:
    grades = {n: g for n, g in enumerate(MEMORY + LLM, start=1)}
    grades.update(changes or {})
    return grades


def write_sheet(
    path: Path,
    key_path: Path,
    grades: dict[int, str],
    grader: str = "",
    delimiter: str = ",",
    reasons: dict[int, str] | None = None,
) -> Path:
    key = json.loads(key_path.read_text(encoding="utf-8"))
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(COLUMNS)
        for n, grade in grades.items():
            info = key["rows"].get(row_id(n), {"document": "D1", "candidate": "A"})
            reason = (reasons or {}).get(n, "")
            writer.writerow(
                [row_id(n), info["document"], "summary", info["candidate"], "entry", grade,
                 reason, grader]
            )  # fmt: skip
    return path


def test_wilson_interval_by_hand() -> None:
    # 8 of 10, z = 1.959964: centre (0.8 + z²/20) / (1 + z²/10) = 0.71674,
    # half z·√(0.016 + z²/400) / (1 + z²/10) = 0.22658 -> [0.4902, 0.9433].
    low, high = wilson_interval(8, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    low, high = wilson_interval(5, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)  # type: ignore[misc]
    assert round(low, 12) == 0.0 and round(high, 4) == 0.2775  # z²/(10 + z²): stays inside [0, 1]
    assert wilson_interval(0, 0) is None


def test_kappas_by_hand() -> None:
    # Cohen's textbook table (Wikipedia, "Cohen's kappa"): 50 items, both yes 20, A yes B no
    # 5, A no B yes 10, both no 15. p_o = 35/50 = 0.7; A says yes to 25/50, B to 30/50:
    # p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5) / (1 − 0.5) = 0.4.
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    found = cohen_kappa(a, b, categories=("yes", "no"))
    assert (found.observed, found.expected, found.items) == (0.7, 0.5, 50)
    assert found.kappa == pytest.approx(0.4)
    # Fleiss' example (Fleiss 1971; Wikipedia, "Fleiss' kappa"): 10 items, 14 raters, 5
    # categories; P̄ = 0.378, P̄_e = 0.213, κ = 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    found = fleiss_kappa(table)
    assert round(found.observed, 3) == 0.378 and round(found.expected, 3) == 0.213
    assert round(found.kappa, 3) == 0.210  # type: ignore[arg-type]
    # Everyone always says the same one thing: chance agreement is 1, kappa undefined.
    assert cohen_kappa(["correct"] * 3, ["correct"] * 3).kappa is None
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[2, 0, 0], [1, 0, 0]])


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    scores = [1.0] * 8 + [0.5, 0.0]
    low, high = bootstrap_mean_interval(scores)  # type: ignore[misc]
    assert low < 0.85 < high <= 1.0
    # The normal approximation 0.85 ± 1.96·0.3162/√10 reaches past 1; the bootstrap cannot.
    assert 0.6 < low < 0.75 and high >= 0.95
    assert bootstrap_mean_interval(scores) == (low, high)
    assert bootstrap_mean_interval([1.0] * 5) == (1.0, 1.0)
    assert bootstrap_mean_interval([]) is None


def test_grades_are_read_leniently_but_never_guessed() -> None:
    assert [parse_grade(g) for g in ("Correct", " minor_fix ", "MINOR", "minor-fix", "")] == [
        "correct",
        "minor fix",
        "minor fix",
        "minor fix",
        None,
    ]
    with pytest.raises(ValueError, match="'ok' is not one of correct / minor fix / wrong"):
        parse_grade("ok")


def test_one_grader_scores_by_hand(tmp_path: Path) -> None:
    key_path = make_key(tmp_path / "s.key.json")
    sheet = write_sheet(
        tmp_path / "ana.csv", key_path, grades_of(), reasons={10: "VAT booked on 2110", 20: "x"}
    )
    key = read_key(key_path)
    report = grade_report(key, read_sheets([sheet], key))
    assert (report["documents"], report["rows"], report["grades"]) == (10, 20, 20)
    assert report["graders"] == ["ana"]  # no grader column filled in: the file's name
    assert report["agreement"] is None
    memory, llm = report["sources"]
    # memory: 8 correct of 10 (Wilson [0.4902, 0.9433]), score (8 + 0.5) / 10 = 0.85.
    assert memory["source"] == "memory" and memory["models"] == ["memory:9@2024-12-31"]
    assert memory["correct"] == {"share": 0.8, "low": 0.4902, "high": 0.9433}
    assert memory["minor_fix"]["share"] == 0.1 and memory["wrong"]["share"] == 0.1
    assert memory["score"]["mean"] == 0.85
    assert memory["score"]["low"] < 0.85 < memory["score"]["high"]
    assert memory["reasons"] == {"wrong_account": 1}  # "VAT booked on 2110": the account
    # llm: 5 correct (Wilson [0.2366, 0.7634]), 3 minor, 2 wrong: (5 + 1.5) / 10 = 0.65.
    assert llm["correct"] == {"share": 0.5, "low": 0.2366, "high": 0.7634}
    assert (llm["minor_fix"]["share"], llm["wrong"]["share"]) == (0.3, 0.2)
    assert llm["score"]["mean"] == 0.65
    assert llm["reasons"] == {"other": 1}


def test_two_and_three_graders_agree_by_hand(tmp_path: Path) -> None:
    key_path = make_key(tmp_path / "s.key.json")
    key = read_key(key_path)
    ana = write_sheet(tmp_path / "1.csv", key_path, grades_of(), grader="ana")
    bob = write_sheet(
        tmp_path / "2.csv", key_path, grades_of(BOB_CHANGES), grader="bob", delimiter=";"
    )  # fmt: skip  (saved by a spreadsheet in a comma locale)
    report = grade_report(key, read_sheets([ana, bob], key))
    # Ana: 13 correct, 4 minor fix, 3 wrong; Bob: 12, 5, 3; they agree on 16 of 20 rows.
    # p_o = 16/20 = 0.8; p_e = (13·12 + 4·5 + 3·3) / 20² = 185/400 = 0.4625;
    # κ = (0.8 − 0.4625) / (1 − 0.4625) = 0.3375 / 0.5375 = 27/43 = 0.6279.
    agreement = report["agreement"]
    assert (agreement["method"], agreement["graders"], agreement["rows"]) == (
        "cohen",
        ["ana", "bob"],
        20,
    )
    assert (agreement["observed"], agreement["expected"], agreement["kappa"]) == (
        0.8,
        0.4625,
        0.6279,
    )
    # A row counts once: memory's rows 1 and 2 are half correct, half minor fix; row 9
    # half minor, half wrong. Correct: 6 + 2·0.5 = 7 of 10; score (6 + 2·0.75 + 0.25) / 10.
    memory = report["sources"][0]
    assert memory["rows"] == 10 and memory["grades"] == 20
    assert memory["correct"]["share"] == 0.7 and memory["score"]["mean"] == 0.775

    cleo = write_sheet(tmp_path / "3.csv", key_path, grades_of(), grader="cleo")
    report = grade_report(key, read_sheets([ana, bob, cleo], key))
    # Fleiss, 3 graders on 20 rows: 16 rows unanimous (P_i = 1), 4 split 2-1
    # (P_i = (2² + 1² − 3) / (3·2) = 1/3): P̄ = (16 + 4/3) / 20 = 13/15.
    # p_correct = 38/60, p_minor = 13/60, p_wrong = 9/60: P̄_e = 1694/3600.
    # κ = (13/15 − 1694/3600) / (1 − 1694/3600) = 1426/1906 = 0.7482.
    agreement = report["agreement"]
    assert (agreement["method"], agreement["rows"], agreement["kappa"]) == ("fleiss", 20, 0.7482)
    assert [p["kappa"] for p in agreement["pairs"]] == [0.6279, 1.0, 0.6279]


def test_bad_sheets_name_the_row(tmp_path: Path) -> None:
    key_path = make_key(tmp_path / "s.key.json")
    key = read_key(key_path)

    def error(grades: dict[int, str], **kwargs: Any) -> str:
        sheet = write_sheet(tmp_path / "bad.csv", key_path, grades, **kwargs)
        with pytest.raises(SheetError) as caught:
            read_sheets([sheet], key)
        return str(caught.value)

    assert (
        "row 5 (row id 'KQZTB-004'): grade 'maybe' is not one of correct / minor fix / wrong"
        in error(grades_of({4: "maybe"}))
    )
    assert "spreadsheet row 6 (row id 'KQZTB-005') has no grade" in error(grades_of({5: ""}))
    missing = grades_of()
    del missing[7], missing[12]
    assert "rows of the key missing from the sheet: KQZTB-007, KQZTB-012" in error(missing)
    # A sheet of another sample: its rows carry another token.
    other = tmp_path / "other.csv"
    other.write_text(
        (tmp_path / "bad.csv").read_text(encoding="utf-8-sig").replace(TOKEN, "PLMNR"),
        encoding="utf-8-sig",
    )
    with pytest.raises(
        SheetError, match=r"row 2 \(row id 'PLMNR-001'\) is not a row of sample KQZTB"
    ):
        read_sheets([other], key)
    # The right token, the rows of another document: not this key's sheet either.
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(
        (tmp_path / "bad.csv").read_text(encoding="utf-8-sig").replace(",D3,", ",D4,"),
        encoding="utf-8-sig",
    )
    with pytest.raises(
        SheetError, match=r"\(row id 'KQZTB-003'\) shows document 'D4' candidate 'A'"
    ):
        read_sheets([swapped], key)
    # The same grader twice, and a sheet that is not UTF-8.
    twice = write_sheet(tmp_path / "t.csv", key_path, grades_of(), grader="ana")
    with pytest.raises(SheetError, match=r"row id 'KQZTB-001' is graded twice by 'ana'"):
        read_sheets([twice, twice], key)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("row,document\nKQZTB-001,Zürich\n".encode("latin-1"))
    with pytest.raises(SheetError, match="not UTF-8 text"):
        read_sheets([latin], key)


def test_partial_sheets_from_graders_who_split_the_work(tmp_path: Path) -> None:
    key_path = make_key(tmp_path / "s.key.json")
    key = read_key(key_path)
    everything = grades_of()
    first = write_sheet(tmp_path / "a.csv", key_path, {n: everything[n] for n in range(1, 11)})
    rest = {n: ("" if n <= 10 else everything[n]) for n in range(1, 21)}
    second = write_sheet(tmp_path / "b.csv", key_path, rest)
    grades = read_sheets([first, second], key, partial=True)
    assert len(grades) == 20 and {g.grader for g in grades} == {"a", "b"}
    assert grade_report(key, grades)["agreement"]["rows"] == 0  # no row graded twice
    with pytest.raises(SheetError, match=r"10 row\(s\) of .* have no grade in any sheet"):
        read_sheets([first], key, partial=True)


def test_the_command_line(tmp_path: Path) -> None:
    key_path = make_key(tmp_path / "s.key.json")
    ana = write_sheet(tmp_path / "ana.csv", key_path, grades_of(), grader="ana")
    bob = write_sheet(tmp_path / "bob.csv", key_path, grades_of(BOB_CHANGES), grader="bob")
    runner = CliRunner()
    chart = tmp_path / "grades.png"
    args = ["eval", "human-import", str(ana), str(bob), "--key", str(key_path)]
    done = runner.invoke(app, [*args, "--json", "--chart", str(chart)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["agreement"]["kappa"] == 0.6279
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Cohen's kappa 0.63 (substantial)" in table.stdout
    bad = write_sheet(tmp_path / "bad.csv", key_path, grades_of({3: "meh"}))
    refused = runner.invoke(app, ["eval", "human-import", str(bad), "--key", str(key_path)])
    assert refused.exit_code == 2 and "KQZTB-003" in refused.output
    no_key = runner.invoke(app, ["eval", "human-import", str(ana), "--key", str(tmp_path)])
    assert no_key.exit_code == 2 and "key" in no_key.output
