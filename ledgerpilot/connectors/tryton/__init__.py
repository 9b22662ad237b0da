"""Tryton as an AIS: read its chart, invoices and moves, write approved entries as its moves.

``open_tryton("tryton+sqlite:////path/NAME.sqlite")`` (or ``tryton+postgresql://...``)
gives a :class:`TrytonAIS`; :mod:`.demo` builds a Tryton database from the synthetic
company. Needs the ``tryton`` extra (trytond with the ``account_invoice`` module).
"""

from .ais import TrytonAIS, open_tryton
from .runtime import TrytonTarget, TrytonUnavailable, parse_url

__all__ = ["TrytonAIS", "TrytonTarget", "TrytonUnavailable", "open_tryton", "parse_url"]
