"""The blind benchmark's grades: read graded sheets, un-blind them, score each backend.

``ledgerpilot eval human-import`` reads one or more sheets written by
``ledgerpilot eval human-sample`` (:mod:`ledgerpilot.training.human_sample`) and graded by
people on the scale *correct* / *minor fix* / *wrong* (scores 1, 0.5 and 0), checks them
against the key (:func:`read_sheet`: every row present and graded with a known grade, the
rows of this key and no other), and reports (:func:`grade_report`):

* per backend (and the gold entry, when it was a candidate): the share of its rows graded
  correct, minor fix and wrong with Wilson score intervals (:func:`wilson_interval`), and
  its mean score with a percentile bootstrap interval over rows
  (:func:`bootstrap_mean_interval`). The unit is the row: a row graded by several people
  counts once, with the shares of its grades and their mean score;
* the agreement between graders who graded the same rows: Cohen's kappa for two
  (:func:`cohen_kappa`), Fleiss' kappa for more (:func:`fleiss_kappa`, on the rows every
  grader graded), with Cohen's kappa of every pair beside it.

The statistics are plain functions of plain numbers; each docstring gives its formula.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

GRADES = ("correct", "minor fix", "wrong")
"""The grading scale, best first."""
SCORES: dict[str, float] = {"correct": 1.0, "minor fix": 0.5, "wrong": 0.0}
"""The score of each grade: a minor fix is worth half a correct entry."""
GOLD = "gold"
"""The key's name for the entry that was actually posted, when it is among the candidates."""
KEY_FORMAT = "ledgerpilot-human-sample/1"
"""The key file's ``format``: what :func:`read_key` accepts."""
COLUMNS = (
    "row",
    "document",
    "summary of the document",
    "candidate",
    "entry (account: debit or credit)",
    "grade (correct / minor fix / wrong)",
    "reason",
    "grader",
)
"""The sheet's header. A column is known by its first word, so graders may reword the rest."""
_REQUIRED = ("row", "document", "candidate", "grade")
_ALIASES = {"minor": "minor fix", "minor fix": "minor fix", "correct": "correct", "wrong": "wrong"}
MAX_ERRORS_SHOWN = 20


class SheetError(ValueError):
    """A graded sheet or key that cannot be used; the message names the file and rows."""


# ------------------------------------------------------------ statistics


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(
    successes: float, n: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson's (1927) score interval for a proportion ``successes / n``.

    With ``p = successes / n`` and ``z`` the normal quantile of the confidence (1.96 for
    95 %)::

        (p + z²/2n ± z·√(p(1 − p)/n + z²/4n²)) / (1 + z²/n)

    It stays within [0, 1] and is sound for small ``n`` and shares near 0 or 1, where the
    normal approximation ``p ± z·√(p(1 − p)/n)`` is not. ``successes`` may be fractional
    (a row graded by several people counts by the share of its grades). ``None`` for
    ``n == 0``.
    """
    if n <= 0:
        return None
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_mean_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float] | None:
    """A percentile bootstrap interval (Efron 1979) for the mean of ``values``.

    Draws ``resamples`` samples of ``len(values)`` with replacement, takes each one's mean,
    and returns the ``(1 − confidence)/2`` and ``(1 + confidence)/2`` quantiles of those
    means (linear interpolation). Chosen over Student's t because scores of 0, 0.5 and 1
    are far from normal and pile up at 1 for a good backend, where a t interval would reach
    past 1. Seeded: the same grades give the same interval. ``None`` for no values.
    """
    if not values:
        return None
    import numpy as np

    data = np.asarray(values, dtype=float)
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, len(data), size=(resamples, len(data)))
    means = data[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement between graders beyond chance."""

    kappa: float | None
    """Cohen's or Fleiss' kappa; ``None`` when chance agreement is already 1 (one grade
    only) and kappa is undefined."""
    observed: float
    """The agreement observed: ``p_o`` (Cohen) or ``P̄`` (Fleiss)."""
    expected: float
    """The agreement expected by chance: ``p_e`` (Cohen) or ``P̄_e`` (Fleiss)."""
    items: int


def cohen_kappa(
    first: Sequence[str], second: Sequence[str], categories: Iterable[str] = GRADES
) -> Agreement:
    """Cohen's (1960) kappa of two graders who graded the same items, in the same order.

    ``p_o`` is the share of items both put in the same category, ``p_e = Σ_k p1_k · p2_k``
    the agreement expected if each graded at random with their own shares ``p1_k`` and
    ``p2_k`` of category ``k``, and ``κ = (p_o − p_e) / (1 − p_e)``: 1 for perfect
    agreement, 0 for chance, below 0 for worse than chance.
    """
    if len(first) != len(second):
        raise ValueError(f"two graders grade the same items: {len(first)} and {len(second)}")
    if not first:
        raise ValueError("kappa needs at least one item graded by both")
    n = len(first)
    kinds = list(dict.fromkeys([*categories, *first, *second]))
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    one, two = Counter(first), Counter(second)
    expected = sum(one[k] * two[k] for k in kinds) / (n * n)
    kappa = None if math.isclose(expected, 1.0) else (observed - expected) / (1 - expected)
    return Agreement(kappa, observed, expected, n)


def fleiss_kappa(table: Sequence[Sequence[int]]) -> Agreement:
    """Fleiss' (1971) kappa from a table of counts: ``table[i][j]`` graders put item ``i``
    in category ``j``; every item has the same number ``n`` of graders (at least 2).

    With ``N`` items: ``p_j = Σ_i n_ij / (N·n)``, ``P_i = (Σ_j n_ij² − n) / (n(n − 1))``,
    ``P̄ = Σ_i P_i / N``, ``P̄_e = Σ_j p_j²`` and ``κ = (P̄ − P̄_e) / (1 − P̄_e)``.
    """
    if not table:
        raise ValueError("kappa needs at least one item")
    raters = {sum(row) for row in table}
    if len(raters) != 1 or (n := raters.pop()) < 2:
        raise ValueError("Fleiss' kappa needs the same number (2 or more) of grades per item")
    items = len(table)
    categories = len(table[0])
    p = [sum(row[j] for row in table) / (items * n) for j in range(categories)]
    per_item = [(sum(c * c for c in row) - n) / (n * (n - 1)) for row in table]
    observed = sum(per_item) / items
    expected = sum(x * x for x in p)
    kappa = None if math.isclose(expected, 1.0) else (observed - expected) / (1 - expected)
    return Agreement(kappa, observed, expected, items)


def kappa_label(kappa: float | None) -> str:
    """Landis and Koch's (1977) words for a kappa, as ``" (moderate)"``; ``""`` for none."""
    if kappa is None:
        return ""
    for bound, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                        (0.8, "substantial")):  # fmt: skip
        if kappa <= bound:
            return f" ({word})"
    return " (almost perfect)"


# ------------------------------------------------------------ the key and the sheets


@dataclass(frozen=True, slots=True)
class Key:
    """A sample's key: which backend drafted each row of its sheet."""

    path: Path
    sheet: str
    """The sheet's token: its row ids start with it."""
    sources: tuple[str, ...]
    rows: Mapping[str, Mapping[str, Any]]
    """Row id -> ``{"document", "kind", "candidate", "source", "model", "status"}``."""


def read_key(path: str | Path) -> Key:
    """Read a key file written by ``ledgerpilot eval human-sample``."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SheetError(f"there is no key file {file}") from None
    except OSError as exc:
        raise SheetError(f"the key {file} cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SheetError(f"{file} is not a key file (JSON): {exc}") from None
    if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
        raise SheetError(f"{file} is not a key written by `ledgerpilot eval human-sample`")
    rows = data.get("rows")
    if not isinstance(rows, dict) or not rows:
        raise SheetError(f"{file} has no rows")
    return Key(file, str(data["sheet"]), tuple(data.get("sources") or ()), rows)


@dataclass(frozen=True, slots=True)
class Grade:
    """One grader's grade of one row."""

    row: str
    grader: str
    grade: str
    """One of :data:`GRADES`."""
    reason: str
    sheet: str
    """The file it came from."""
    line: int
    """Its row in the spreadsheet (the header is row 1; a cell of several lines is one row)."""


def parse_grade(text: str) -> str | None:
    """The grade a cell holds (:data:`GRADES`; ``minor`` is a minor fix; case, spaces,
    ``_`` and ``-`` do not matter), ``None`` for a blank cell; raises ``ValueError`` else."""
    cell = " ".join(text.replace("_", " ").replace("-", " ").lower().split())
    if not cell:
        return None
    if cell not in _ALIASES:
        raise ValueError(f"grade {text.strip()!r} is not one of {' / '.join(GRADES)}")
    return _ALIASES[cell]


def _text_of(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SheetError(f"there is no sheet {file}") from None
    except OSError as exc:
        raise SheetError(f"the sheet {file} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SheetError(
            f"{file} is not UTF-8 text: save it as 'CSV UTF-8' (Excel) or as 'Text CSV' with "
            "the UTF-8 character set (LibreOffice)"
        ) from None


def _dialect(file: Path, text: str) -> str:
    header = text.splitlines()[0] if text else ""
    for delimiter in (",", ";", "\t"):
        if len(header.split(delimiter)) >= len(_REQUIRED):
            return delimiter
    raise SheetError(f"{file} has no header row of comma-, semicolon- or tab-separated columns")


def read_sheet(path: str | Path, key: Key, partial: bool = False) -> list[Grade]:
    """The grades of one graded sheet, checked against ``key``.

    Raises :class:`SheetError` naming the rows at fault: a row not in the key (a sheet of
    another sample), a row whose document or candidate differs from the key's, a row twice,
    a grade not on the scale, a row without a grade, a row of the key missing from the
    sheet, a row without a grader in a sheet that names several. With ``partial``, rows
    missing or left ungraded are skipped instead (graders who split the sheet). A sheet may
    be saved with commas, semicolons or tabs between columns.

    The grader is the row's ``grader`` cell; blank cells take the one name the sheet gives
    elsewhere, or the file's name when it gives none.
    """
    file = Path(path)
    text = _text_of(file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(file, text))
    header = [cell.strip().split(" ")[0].lower() if cell.strip() else "" for cell in next(reader)]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise SheetError(f"{file} lacks the column(s) {', '.join(missing)} (see its header row)")
    at = {name: header.index(name) for name in (*_REQUIRED, "reason", "grader") if name in header}
    errors: list[str] = []
    found: list[tuple[int, str, str | None, str, str]] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = at.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        row = cell("row")
        where = f"spreadsheet row {line} (row id {row!r})"
        expected = key.rows.get(row)
        if expected is None:
            if not row.startswith(f"{key.sheet}-"):
                errors.append(
                    f"{where} is not a row of sample {key.sheet} (its rows are "
                    f"{key.sheet}-...): is this a sheet of another sample than {key.path}?"
                )
            else:
                errors.append(f"{where} is not in the key {key.path}")
            continue
        if (cell("document"), cell("candidate")) != (expected["document"], expected["candidate"]):
            errors.append(
                f"{where} shows document {cell('document')!r} candidate {cell('candidate')!r}; "
                f"the key has document {expected['document']!r} candidate "
                f"{expected['candidate']!r}: the sheet and the key do not belong together"
            )
            continue
        if row in seen:
            errors.append(f"{where} is there twice (first in spreadsheet row {seen[row]})")
            continue
        seen[row] = line
        try:
            grade = parse_grade(cell("grade"))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if grade is None and not partial:
            errors.append(f"{where} has no grade ({' / '.join(GRADES)})")
            continue
        found.append((line, row, grade, cell("reason"), cell("grader")))
    absent = sorted(row for row in key.rows if row not in seen)
    if absent and not partial:
        shown = ", ".join(absent[:10]) + (
            f" and {len(absent) - 10} more" if len(absent) > 10 else ""
        )
        errors.append(f"rows of the key missing from the sheet: {shown}")
    names = {g for *_, g in found if g}
    default = names.pop() if len(names) == 1 else (file.stem if not names else None)
    grades: list[Grade] = []
    for line, row, grade, reason, grader in found:
        who = grader or default
        if who is None:
            errors.append(
                f"spreadsheet row {line} (row id {row!r}) has no grader (the sheet names several)"
            )
            continue
        if grade is not None:
            grades.append(Grade(row, who, grade, reason, str(file), line))
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        listed = "\n  ".join(errors[:MAX_ERRORS_SHOWN]) + (
            f"\n  ... {more} more" if more > 0 else ""
        )
        raise SheetError(f"{file}:\n  {listed}")
    return grades


def read_sheets(paths: Sequence[str | Path], key: Key, partial: bool = False) -> list[Grade]:
    """The grades of several sheets of one key; a grader grades a row once, and (with
    ``partial``) every row must have at least one grade."""
    grades = [g for path in paths for g in read_sheet(path, key, partial)]
    first: dict[tuple[str, str], Grade] = {}
    for g in grades:
        other = first.setdefault((g.row, g.grader), g)
        if other is not g:
            raise SheetError(
                f"row id {g.row!r} is graded twice by {g.grader!r}: {other.sheet} spreadsheet row "
                f"{other.line} and {g.sheet} spreadsheet row {g.line} (name the grader in the "
                "grader column)"
            )
    graded = {g.row for g in grades}
    ungraded = [row for row in key.rows if row not in graded]
    if ungraded:
        raise SheetError(
            f"{len(ungraded)} row(s) of {key.path} have no grade in any sheet: "
            + ", ".join(ungraded[:10])
        )
    return grades


# ------------------------------------------------------------ the report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _agreement(grades: Sequence[Grade]) -> dict[str, Any] | None:
    by_row: dict[str, dict[str, str]] = {}
    for g in grades:
        by_row.setdefault(g.row, {})[g.grader] = g.grade
    graders = sorted({g.grader for g in grades})
    if len(graders) < 2:
        return None
    pairs = []
    for a, b in combinations(graders, 2):
        both = [r for r in by_row.values() if a in r and b in r]
        if both:
            found = cohen_kappa([r[a] for r in both], [r[b] for r in both])
            pairs.append({"graders": [a, b], "rows": found.items, "kappa": _round(found.kappa)})
    if not pairs:
        return {"method": None, "graders": graders, "rows": 0, "kappa": None, "pairs": []}
    if len(graders) == 2:
        a, b = graders
        both = [r for r in by_row.values() if a in r and b in r]
        result = cohen_kappa([r[a] for r in both], [r[b] for r in both])
        method = "cohen"
    else:
        everyone = [r for r in by_row.values() if len(r) == len(graders)]
        if not everyone:
            return {"method": None, "graders": graders, "rows": 0, "kappa": None, "pairs": pairs}
        table = [[list(r.values()).count(k) for k in GRADES] for r in everyone]
        result = fleiss_kappa(table)
        method = "fleiss"
    return {
        "method": method,
        "graders": graders,
        "rows": result.items,
        "kappa": _round(result.kappa),
        "observed": _round(result.observed),
        "expected": _round(result.expected),
        "pairs": pairs,
    }


def grade_report(
    key: Key,
    grades: Sequence[Grade],
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """The report of ``ledgerpilot eval human-import --json``.

    ``{"sheet", "documents", "rows", "graders", "grades", "scale", "confidence", "method",
    "sources", "agreement"}``. ``sources``: per backend (and ``gold``), in the key's order,
    ``rows``, ``grades``, ``models``, ``correct`` / ``minor_fix`` / ``wrong`` each as
    ``{"share", "low", "high"}`` (Wilson), ``score`` as ``{"mean", "low", "high"}``
    (bootstrap) and ``reasons`` (the graders' reasons for minor fixes and wrong entries, by
    category). ``agreement``: ``None`` with one grader, else ``method`` (``cohen`` or
    ``fleiss``), ``graders``, ``rows`` graded by all, ``kappa``, ``observed``,
    ``expected`` and Cohen's kappa of each ``pairs`` of graders.
    """
    from .human import reason_category

    by_row: dict[str, list[Grade]] = {}
    for g in grades:
        by_row.setdefault(g.row, []).append(g)
    sources = list(dict.fromkeys([*key.sources, *(r["source"] for r in key.rows.values())]))
    report_sources = []
    for source in sources:
        rows = [row for row, info in key.rows.items() if info["source"] == source]
        graded = [by_row[row] for row in rows if row in by_row]
        n = len(graded)
        shares = {
            grade: sum(sum(g.grade == grade for g in gs) / len(gs) for gs in graded)
            for grade in GRADES
        }
        scores = [sum(SCORES[g.grade] for g in gs) / len(gs) for gs in graded]
        interval = bootstrap_mean_interval(scores, confidence, resamples, seed)
        reasons = Counter(
            reason_category(g.reason)
            for gs in graded
            for g in gs
            if g.grade != "correct" and g.reason
        )
        entry: dict[str, Any] = {
            "source": source,
            "models": sorted({str(key.rows[r]["model"]) for r in rows if key.rows[r]["model"]}),
            "rows": n,
            "grades": sum(len(gs) for gs in graded),
        }
        for grade in GRADES:
            bounds = wilson_interval(shares[grade], n, confidence)
            entry[grade.replace(" ", "_")] = {
                "share": _round(shares[grade] / n) if n else None,
                "low": _round(bounds[0]) if bounds else None,
                "high": _round(bounds[1]) if bounds else None,
            }
        entry["score"] = {
            "mean": _round(sum(scores) / n) if n else None,
            "low": _round(interval[0]) if interval else None,
            "high": _round(interval[1]) if interval else None,
        }
        entry["reasons"] = dict(reasons.most_common())
        report_sources.append(entry)
    return {
        "sheet": key.sheet,
        "documents": len({info["document"] for info in key.rows.values()}),
        "rows": len(key.rows),
        "graders": sorted({g.grader for g in grades}),
        "grades": len(grades),
        "scale": dict(SCORES),
        "confidence": confidence,
        "method": {
            "shares": "Wilson score interval",
            "score": f"percentile bootstrap over rows, {resamples} resamples, seed {seed}",
            "unit": "a row graded by several graders counts once, by its grades' shares "
            "and mean score",
        },
        "sources": report_sources,
        "agreement": _agreement(grades),
    }


def plot_grades(report: Mapping[str, Any], path: str | Path) -> Path:
    """Draw each source's shares of correct, minor fix and wrong (stacked bars) and its mean
    score with its interval (black error bar) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = [s for s in report["sources"] if s["rows"]]
    names = [s["source"] for s in sources]
    colours = {"correct": "#2e7d32", "minor fix": "#f9a825", "wrong": "#c62828"}
    figure, axes = plt.subplots(figsize=(max(7.5, 1.5 * len(sources) + 4), 4.2), dpi=100)
    try:
        bottoms = [0.0] * len(sources)
        for grade in GRADES:
            shares = [s[grade.replace(" ", "_")]["share"] or 0.0 for s in sources]
            axes.bar(names, shares, bottom=bottoms, label=grade, color=colours[grade], alpha=0.8)
            bottoms = [b + x for b, x in zip(bottoms, shares, strict=True)]
        means = [s["score"]["mean"] for s in sources]
        below = [m - s["score"]["low"] for m, s in zip(means, sources, strict=True)]
        above = [s["score"]["high"] - m for m, s in zip(means, sources, strict=True)]
        axes.errorbar(
            names, means, yerr=[below, above], fmt="o", color="black", capsize=6,
            label=f"mean score, {report['confidence']:.0%} interval",
        )  # fmt: skip
        axes.set_ylim(0, 1.05)
        axes.set_ylabel("share of rows / mean score")
        axes.set_title(f"Blind grades, sheet {report['sheet']}")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(out)
    finally:
        plt.close(figure)
    return out
