"""Fixtures of the web tests: a real AIS and store on SQLite, the app, its users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from tests.agent.drafting_kit import make_company, rent_invoice, sqlite_url

from .kit import Dispatched, add_users


@pytest.fixture(scope="module")
def ais_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small company in a real AIS: two posted rent invoices, three pending ones."""
    url = sqlite_url(tmp_path_factory.mktemp("web-ais") / "ais.sqlite")
    return make_company(url, [rent_invoice(f"SI-{n}", f"2024-03-0{n}") for n in (3, 4, 5)])


@pytest.fixture
def ais(ais_url: str) -> Iterator[ReferenceAIS]:
    """The AIS connector: the app reads the chart of accounts from it."""
    with ReferenceAIS(ais_url) as connector:
        yield connector


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProposalStore]:
    """A new store with a user of every role."""
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as created:
        add_users(created)
        yield created


@pytest.fixture
def dispatched() -> Dispatched:
    """What the app asks the workers to do."""
    return Dispatched()


@pytest.fixture
def app(store: ProposalStore, ais: ReferenceAIS, dispatched: Dispatched) -> FastAPI:
    """The app over the store, plain HTTP (as ``ledgerpilot web`` on localhost)."""
    return create_app(store, ais, dispatched, secure_cookies=False)
