"""The load benchmark at a reduced size: every document is drafted through the queue once.

``benchmarks/bench_load.py`` (``make bench-load``) drafts 100,000 documents through Redis,
PostgreSQL and a real ``ledgerpilot worker`` with two pool processes, sampling their memory.
This test runs the same :func:`run_load` with ``LEDGERPILOT_LOAD_DOCUMENTS`` documents
(500 by default, to fit CI on two shared cores) against the test's own databases and
Redis database, and checks the outcome, not the speed: each document has exactly one
proposal, none is missing, and the workers' memory was sampled throughout. Timings belong
to the benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_load import run_load
from tests.conftest import _temporary_database

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

DOCUMENTS = int(os.environ.get("LEDGERPILOT_LOAD_DOCUMENTS", "500"))


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """The AIS and the store: a PostgreSQL database each, of this test."""
    with _temporary_database() as ais_url, _temporary_database() as store_url:
        yield ais_url, store_url


def test_a_load_through_the_queue_drafts_every_document_exactly_once(
    tmp_path: Path, databases: tuple[str, str], redis_url: str
) -> None:
    ais_url, store_url = databases
    result = run_load(
        documents=DOCUMENTS,
        ais_url=ais_url,
        store_url=store_url,
        broker=redis_url,
        data_dir=tmp_path,
        per_year=600,
        limit_seconds=600,
    )
    memory = result.memory()
    print(
        f"\nload: {result.documents} documents in {result.seconds:.1f} s, "
        f"statuses {result.statuses}, memory {memory}"
    )
    assert result.undrafted == 0
    assert result.drafted_twice == 0
    assert sum(result.statuses.values()) == DOCUMENTS
    assert set(result.statuses) <= {"proposed", "needs_review", "quarantined"}
    assert result.statuses.get("proposed", 0) > DOCUMENTS // 2  # the memory backend drafted
    # Every worker process was watched from start to end: the main one and two pool ones.
    assert {"main", "pool-1", "pool-2"} <= set(memory)
    assert len(result.samples) >= 2
