"""Public holidays per country, computed (Easter-dependent days included), for the timing checks.

ISA 240 (A44) and AS 2401 (.61) name entries "made at unusual times" among those to test;
a posting dated on a weekend or a public holiday is one. The calendars are the nationwide
public holidays of each country (regional German holidays are left out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache


def easter(year: int) -> dt.date:
    """Easter Sunday of ``year`` in the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _croatia(year: int) -> dict[dt.date, str]:
    """Croatia: Zakon o blagdanima, spomendanima i neradnim danima (NN 110/19 from 2020)."""
    sunday = easter(year)
    days = {
        dt.date(year, 1, 1): "New Year's Day",
        dt.date(year, 1, 6): "Epiphany",
        sunday: "Easter Sunday",
        sunday + dt.timedelta(days=1): "Easter Monday",
        dt.date(year, 5, 1): "Labour Day",
        sunday + dt.timedelta(days=60): "Corpus Christi",
        dt.date(year, 6, 22): "Anti-Fascist Struggle Day",
        dt.date(year, 8, 5): "Victory and Homeland Thanksgiving Day",
        dt.date(year, 8, 15): "Assumption of Mary",
        dt.date(year, 11, 1): "All Saints' Day",
        dt.date(year, 12, 25): "Christmas Day",
        dt.date(year, 12, 26): "St Stephen's Day",
    }
    if year >= 2020:
        days[dt.date(year, 5, 30)] = "Statehood Day"
        days[dt.date(year, 11, 18)] = "Remembrance Day"
    else:
        days[dt.date(year, 6, 25)] = "Statehood Day"
        days[dt.date(year, 10, 8)] = "Independence Day"
    return days


def _germany(year: int) -> dict[dt.date, str]:
    """Germany: the nationwide public holidays (Reformation Day only in 2017)."""
    sunday = easter(year)
    days = {
        dt.date(year, 1, 1): "Neujahr",
        sunday - dt.timedelta(days=2): "Karfreitag",
        sunday + dt.timedelta(days=1): "Ostermontag",
        dt.date(year, 5, 1): "Tag der Arbeit",
        sunday + dt.timedelta(days=39): "Christi Himmelfahrt",
        sunday + dt.timedelta(days=50): "Pfingstmontag",
        dt.date(year, 10, 3): "Tag der Deutschen Einheit",
        dt.date(year, 12, 25): "1. Weihnachtstag",
        dt.date(year, 12, 26): "2. Weihnachtstag",
    }
    if year == 2017:
        days[dt.date(year, 10, 31)] = "Reformationstag"
    return days


def _austria(year: int) -> dict[dt.date, str]:
    """Austria: the statutory public holidays (Feiertagsruhegesetz)."""
    sunday = easter(year)
    return {
        dt.date(year, 1, 1): "Neujahr",
        dt.date(year, 1, 6): "Heilige Drei Könige",
        sunday + dt.timedelta(days=1): "Ostermontag",
        dt.date(year, 5, 1): "Staatsfeiertag",
        sunday + dt.timedelta(days=39): "Christi Himmelfahrt",
        sunday + dt.timedelta(days=50): "Pfingstmontag",
        sunday + dt.timedelta(days=60): "Fronleichnam",
        dt.date(year, 8, 15): "Mariä Himmelfahrt",
        dt.date(year, 10, 26): "Nationalfeiertag",
        dt.date(year, 11, 1): "Allerheiligen",
        dt.date(year, 12, 8): "Mariä Empfängnis",
        dt.date(year, 12, 25): "Christtag",
        dt.date(year, 12, 26): "Stefanitag",
    }


CALENDARS: dict[str, Callable[[int], dict[dt.date, str]]] = {
    "HR": _croatia,
    "DE": _germany,
    "AT": _austria,
}
"""The countries with a holiday calendar, by ISO 3166 code."""


@lru_cache(maxsize=256)
def holidays(country: str, year: int) -> dict[dt.date, str]:
    """The public holidays of ``country`` in ``year`` by date; empty for an unknown country."""
    calendar = CALENDARS.get(country.upper())
    return calendar(year) if calendar else {}


def holiday_name(day: dt.date, country: str) -> str | None:
    """The name of the public holiday on ``day`` in ``country``, or ``None``."""
    return holidays(country, day.year).get(day)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@lru_cache(maxsize=16384)
def non_working_day(day: dt.date, country: str) -> str | None:
    """Why ``day`` is not a working day (``"Sunday"``, ``"Easter Monday"``), or ``None``.

    Cached: a journal asks about the same few thousand days hundreds of times each.
    """
    name = holiday_name(day, country)
    if name:
        return f"public holiday ({name})"
    if day.weekday() >= 5:
        return WEEKDAYS[day.weekday()]
    return None
