"""Real charts of accounts shipped as package data (Odoo localisation templates, LGPL-3).

Each chart lives in its own folder as ``accounts.csv``, with ``taxes.csv`` beside it where
the source has one. ``SOURCE.md`` records where every file comes from and its SHA-256.
"""

from pathlib import Path

CHARTS_DIR: Path = Path(__file__).resolve().parent
"""Folder holding one sub-folder per chart."""

AVAILABLE_CHARTS: tuple[str, ...] = ("hr", "generic", "de_skr03")
"""Chart names: Croatian (RRiF), Odoo's generic chart, German SKR03."""


def _chart_dir(name: str) -> Path:
    """Return the folder of chart ``name``, or raise ValueError naming the valid choices."""
    if name not in AVAILABLE_CHARTS:
        choices = ", ".join(AVAILABLE_CHARTS)
        raise ValueError(f"unknown chart of accounts {name!r}; available charts: {choices}")
    return CHARTS_DIR / name


def chart_path(name: str) -> Path:
    """Return the path of the ``accounts.csv`` of chart ``name``."""
    return _chart_dir(name) / "accounts.csv"


def taxes_path(name: str) -> Path | None:
    """Return the path of the ``taxes.csv`` of chart ``name``, or None if it has none."""
    path = _chart_dir(name) / "taxes.csv"
    return path if path.is_file() else None


__all__ = ["AVAILABLE_CHARTS", "CHARTS_DIR", "chart_path", "taxes_path"]
