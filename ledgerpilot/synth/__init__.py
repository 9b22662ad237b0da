"""A synthetic company: years of posted history on a real chart, and an inbox with its truth.

``generate(chart_name, years, inbox, seed)`` draws a company on one of the built-in charts
(``hr``, ``generic``, ``de_skr03``); its :meth:`~SyntheticCompany.history` streams every
historical document with the entry a bookkeeper posted (with realistic noise), its
``inbox`` holds the documents still to post and ``truth`` their careful entries.
docs/synthetic-company.md describes how it is built and why it is hard.
"""

from .company import SyntheticCompany, generate, summary, write_truth
from .noise import Slip

__all__ = ["Slip", "SyntheticCompany", "generate", "summary", "write_truth"]
