"""Fixtures of the assistant tests: two small synthetic companies in real AIS databases.

The Croatian company is the agent tests' ``small_company`` (one year of the hr chart, seed
7: Drava Elektro and Posavina Elektro bill electricity, Lika Nekretnine the rent, Maple
Cloud software from Serbia, ...); the English one is its twin on Odoo's generic chart (a
Luxembourg company). Each is loaded into a SQLite reference AIS once per session, and the
assistant reads it as it reads any AIS.

:class:`ScriptedModel` is the one fake: a model server at the edge of the outside world,
answering fixed texts to the ``scheme`` task, and keeping the messages it was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledgerpilot.assistant import Assistant
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.synth import generate
from tests.agent.conftest import SmallCompany, small_company  # noqa: F401 - a fixture

GENERIC_SEED = 7


@pytest.fixture(scope="session")
def hr_ais_url(small_company: SmallCompany, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """The agent tests' small Croatian company in a SQLite AIS."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ask-hr') / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        ais.load(small_company.history, chart=small_company.company.chart)
    return url


@pytest.fixture(scope="session")
def generic_ais_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-year company on Odoo's generic chart (English), in a SQLite AIS."""
    company = generate("generic", years=1, inbox=0, seed=GENERIC_SEED, per_year=300)
    url = f"sqlite:///{tmp_path_factory.mktemp('ask-generic') / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        ais.load(company.history(), chart=company.chart)
    return url


@pytest.fixture(scope="session")
def hr_assistant(hr_ais_url: str) -> Iterator[Assistant]:
    """The assistant over the Croatian company (memory only: no model is configured)."""
    with ReferenceAIS(hr_ais_url) as ais:
        yield Assistant(ais, models=lambda name: None)


@pytest.fixture(scope="session")
def generic_assistant(generic_ais_url: str) -> Iterator[Assistant]:
    """The assistant over the English company (memory only)."""
    with ReferenceAIS(generic_ais_url) as ais:
        yield Assistant(ais, models=lambda name: None)


@dataclass
class ScriptedModel:
    """A served model at the edge: answers ``text`` to every question, keeps the messages."""

    text: str
    name: str = "llm"
    model: str = "scripted-scheme-model"
    sent: list[list[dict[str, str]]] = field(default_factory=list)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The scripted answer."""
        self.sent.append(messages)
        return self.text


def scripted(ais_url: str, text: str) -> tuple[Assistant, ScriptedModel, ReferenceAIS]:
    """An assistant whose ``llm``/``auto`` model is a :class:`ScriptedModel` (close the AIS)."""
    model = ScriptedModel(text)
    ais = ReferenceAIS(ais_url)
    return Assistant(ais, models=lambda name: None if name == "memory" else model), model, ais


def store_url(tmp_path: Path) -> str:
    """A SQLite store for the conversations' checkpoints."""
    return f"sqlite:///{tmp_path / 'store.sqlite'}"
