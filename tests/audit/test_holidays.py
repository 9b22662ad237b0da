"""Public-holiday calendars: Easter and the days that move with it, fixed days, weekends."""

from __future__ import annotations

import datetime as dt

from ledgerpilot.audit.holidays import easter, holiday_name, holidays, non_working_day


def test_easter_sundays() -> None:
    assert easter(2024) == dt.date(2024, 3, 31)
    assert easter(2025) == dt.date(2025, 4, 20)
    assert easter(2019) == dt.date(2019, 4, 21)
    assert easter(2000) == dt.date(2000, 4, 23)
    assert easter(2038) == dt.date(2038, 4, 25)  # the latest possible
    assert easter(2285) == dt.date(2285, 3, 22)  # the earliest possible


def test_croatia_2024() -> None:
    assert holiday_name(dt.date(2024, 4, 1), "HR") == "Easter Monday"
    assert holiday_name(dt.date(2024, 5, 30), "HR") in {"Corpus Christi", "Statehood Day"}
    assert holiday_name(dt.date(2025, 6, 19), "HR") == "Corpus Christi"
    assert holiday_name(dt.date(2024, 11, 18), "HR") == "Remembrance Day"
    assert holiday_name(dt.date(2024, 8, 5), "HR") == "Victory and Homeland Thanksgiving Day"
    assert holiday_name(dt.date(2024, 4, 2), "HR") is None
    assert len(holidays("HR", 2025)) == 14


def test_croatia_before_2020() -> None:
    assert holiday_name(dt.date(2019, 6, 25), "HR") == "Statehood Day"
    assert holiday_name(dt.date(2019, 10, 8), "HR") == "Independence Day"
    assert holiday_name(dt.date(2019, 5, 30), "HR") is None


def test_germany_2024() -> None:
    assert holiday_name(dt.date(2024, 3, 29), "DE") == "Karfreitag"
    assert holiday_name(dt.date(2024, 4, 1), "DE") == "Ostermontag"
    assert holiday_name(dt.date(2024, 5, 9), "DE") == "Christi Himmelfahrt"
    assert holiday_name(dt.date(2024, 5, 20), "DE") == "Pfingstmontag"
    assert holiday_name(dt.date(2024, 10, 3), "DE") == "Tag der Deutschen Einheit"
    assert holiday_name(dt.date(2024, 5, 30), "DE") is None  # Corpus Christi is regional
    assert holiday_name(dt.date(2017, 10, 31), "de") == "Reformationstag"


def test_non_working_days() -> None:
    assert non_working_day(dt.date(2024, 4, 1), "HR") == "public holiday (Easter Monday)"
    assert non_working_day(dt.date(2024, 4, 6), "HR") == "Saturday"
    assert non_working_day(dt.date(2024, 4, 7), "XX") == "Sunday"
    assert non_working_day(dt.date(2024, 4, 1), "XX") is None  # no calendar: weekends only
    assert non_working_day(dt.date(2024, 4, 2), "HR") is None
