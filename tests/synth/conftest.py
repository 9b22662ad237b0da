"""Small synthetic companies shared by the synth tests (generated once per module)."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerpilot.ledger import Document
from ledgerpilot.synth import SyntheticCompany, generate

CHARTS = ("hr", "generic", "de_skr03")


@dataclass
class Made:
    """A company with its history materialised (small companies only)."""

    company: SyntheticCompany
    history: list[Document]


_CACHE: dict[tuple[object, ...], Made] = {}


def made(
    chart: str,
    years: int = 3,
    inbox: int = 150,
    seed: int = 7,
    per_year: int = 700,
    start_year: int | None = None,
) -> Made:
    """A company and its history, cached per process (tests only read them)."""
    key = (chart, years, inbox, seed, per_year, start_year)
    if key not in _CACHE:
        company = generate(chart, years, inbox, seed, per_year=per_year, start_year=start_year)
        _CACHE[key] = Made(company, list(company.history()))
    return _CACHE[key]
