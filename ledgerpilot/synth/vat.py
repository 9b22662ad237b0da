"""VAT rates over time, per country and rate class, and EU membership over time.

The timelines follow the real changes of each country between 2009 and 2025, simplified
to the classes of goods and services a small IT company buys and sells (see
docs/synthetic-company.md for the table and the simplifications). Every change falls on
the first day of a month, so a rate can be looked up per month.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from itertools import pairwise

_D = dt.date
_EARLY = _D(1990, 1, 1)

RATE_CLASSES = ("standard", "reduced", "catering", "accommodation", "electricity", "gas", "exempt")
"""What decides a line's rate: the standard rate, or one of the classes that had their own."""

# (first day, rate in percent), in date order; each class of each country.
TIMELINES: dict[str, dict[str, tuple[tuple[dt.date, int], ...]]] = {
    "HR": {
        "standard": ((_EARLY, 23), (_D(2012, 3, 1), 25)),
        "reduced": ((_EARLY, 5),),
        "catering": ((_EARLY, 23), (_D(2012, 3, 1), 25), (_D(2017, 1, 1), 13)),
        "accommodation": ((_EARLY, 10), (_D(2014, 1, 1), 13)),
        "electricity": ((_EARLY, 23), (_D(2012, 3, 1), 25), (_D(2022, 4, 1), 13)),
        "gas": (
            (_EARLY, 23),
            (_D(2012, 3, 1), 25),
            (_D(2022, 4, 1), 13),
            (_D(2022, 10, 1), 5),
            (_D(2025, 4, 1), 13),
        ),
        "exempt": ((_EARLY, 0),),
    },
    "DE": {
        "standard": ((_EARLY, 19), (_D(2020, 7, 1), 16), (_D(2021, 1, 1), 19)),
        "reduced": ((_EARLY, 7), (_D(2020, 7, 1), 5), (_D(2021, 1, 1), 7)),
        "catering": ((_EARLY, 19), (_D(2020, 7, 1), 5), (_D(2021, 1, 1), 7), (_D(2024, 1, 1), 19)),
        "accommodation": (
            (_EARLY, 19),
            (_D(2010, 1, 1), 7),
            (_D(2020, 7, 1), 5),
            (_D(2021, 1, 1), 7),
        ),
        "electricity": ((_EARLY, 19), (_D(2020, 7, 1), 16), (_D(2021, 1, 1), 19)),
        "gas": (
            (_EARLY, 19),
            (_D(2020, 7, 1), 16),
            (_D(2021, 1, 1), 19),
            (_D(2022, 10, 1), 7),
            (_D(2024, 4, 1), 19),
        ),
        "exempt": ((_EARLY, 0),),
    },
    # The generic chart's company sits in Luxembourg, an EU country whose standard rate was
    # 15 % until 2014 (Odoo's generic chart ships a 15 % tax).
    "LU": {
        "standard": (
            (_EARLY, 15),
            (_D(2015, 1, 1), 17),
            (_D(2023, 1, 1), 16),
            (_D(2024, 1, 1), 17),
        ),
        "reduced": ((_EARLY, 3),),
        "catering": ((_EARLY, 3),),
        "accommodation": ((_EARLY, 3),),
        "electricity": ((_EARLY, 6), (_D(2015, 1, 1), 8), (_D(2023, 1, 1), 7), (_D(2024, 1, 1), 8)),
        "gas": ((_EARLY, 6), (_D(2015, 1, 1), 8), (_D(2023, 1, 1), 7), (_D(2024, 1, 1), 8)),
        "exempt": ((_EARLY, 0),),
    },
}

EU_MEMBERS: dict[str, tuple[dt.date, dt.date | None]] = {
    code: (_EARLY, None)
    for code in (
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    )
}
"""Country -> (joined, left): Croatia joined on 2013-07-01, the UK left on 2021-01-01."""
EU_MEMBERS["HR"] = (_D(2013, 7, 1), None)
EU_MEMBERS["GB"] = (_EARLY, _D(2021, 1, 1))


def rate(country: str, rate_class: str, day: dt.date) -> int:
    """The VAT rate in percent of ``rate_class`` in ``country`` on ``day``."""
    timeline = TIMELINES[country][rate_class]
    index = bisect_right([start for start, _ in timeline], day) - 1
    return timeline[max(index, 0)][1]


def in_eu(country: str | None, day: dt.date) -> bool:
    """Whether ``country`` was an EU member state on ``day``."""
    if country is None or country not in EU_MEMBERS:
        return False
    joined, left = EU_MEMBERS[country]
    return joined <= day and (left is None or day < left)


def regime(company_country: str, partner_country: str | None, day: dt.date) -> str:
    """``domestic``, ``eu`` (both in the EU on ``day``) or ``foreign``: how VAT treats a partner."""
    if partner_country is None or partner_country == company_country:
        return "domestic"
    if in_eu(company_country, day) and in_eu(partner_country, day):
        return "eu"
    return "foreign"


def changes(country: str, first: dt.date, last: dt.date) -> list[tuple[dt.date, str, int, int]]:
    """Rate changes between ``first`` and ``last``: (day, class, old rate, new rate)."""
    found = []
    for rate_class, timeline in TIMELINES[country].items():
        for (_, old), (start, new) in pairwise(timeline):
            if first <= start <= last:
                found.append((start, rate_class, old, new))
    return sorted(found)
