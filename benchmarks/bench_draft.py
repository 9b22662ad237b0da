"""Benchmark: the memory backend's index build and drafting throughput, in process.

Targets (issue 3): the index of 400,000 historical documents builds in under a minute;
drafting with ``memory`` (recall, propose, validate, route) runs at 200 documents a second
or more. The history is generated first and held in a list, so the build time is the
index's own; the documents drafted are the year after the indexed history, entries
stripped. Prints one JSON object per line::

    .venv/bin/python benchmarks/bench_draft.py                       # hr, 17 years x 25,000
    .venv/bin/python benchmarks/bench_draft.py --chart de_skr03 --years 5 --per-year 2500

A last step measures the ``draft`` command's own path on a 5-year company of the same
chart in SQLite: the LangGraph graph with its SQLite checkpoints and the proposal store,
for ``--inbox`` pending documents (``--inbox 0`` skips it).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import resource
import tempfile
import time
from pathlib import Path

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.synth import generate
from ledgerpilot.training.evaluation import draft_in_process


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    """Run the benchmark and print its figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", default="hr")
    parser.add_argument("--years", type=int, default=17)
    parser.add_argument("--per-year", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--draft", type=int, default=3_000, help="documents to draft")
    parser.add_argument(
        "--inbox", type=int, default=1_000, help="documents drafted through the graph"
    )
    args = parser.parse_args()

    company = generate(
        args.chart, years=args.years, inbox=0, seed=args.seed, per_year=args.per_year
    )
    cut = dt.date(company.end_year, 1, 1)
    started = time.perf_counter()
    documents = list(company.history())
    generated = time.perf_counter() - started
    history = [d for d in documents if d.date < cut]
    new = [dataclasses.replace(d, entry=None) for d in documents if d.date >= cut][: args.draft]
    del documents
    gc.collect()
    print(
        json.dumps(
            {
                "step": "generate",
                "chart": args.chart,
                "documents": len(history) + len(new),
                "seconds": round(generated, 2),
            }
        ),
        flush=True,
    )

    rss_before = _rss_mib()
    started = time.perf_counter()
    index = HistoryIndex.build(history, company.chart)
    built = time.perf_counter() - started
    print(
        json.dumps(
            {
                "step": "index_build",
                "documents": index.indexed,
                "seconds": round(built, 2),
                "documents_per_second": round(index.indexed / built),
                "kept_documents": len(index.documents),
                "pools": len(index.pools),
                "peak_rss_mib": _rss_mib(),
                "rss_before_mib": rss_before,
                "target_seconds": 60,
            }
        ),
        flush=True,
    )

    started = time.perf_counter()
    backend = MemoryBackend(index, company.chart)
    calibrated = time.perf_counter() - started
    print(
        json.dumps(
            {
                "step": "memory_self_test",
                "documents": backend.calibration.samples if backend.calibration else 0,
                "seconds": round(calibrated, 2),
            }
        ),
        flush=True,
    )

    policy = RoutingPolicy()
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    for doc in new:
        result = draft_in_process(backend, index, company.chart, doc, policy)
        statuses[result.status] = statuses.get(result.status, 0) + 1
    drafted = time.perf_counter() - started
    print(
        json.dumps(
            {
                "step": "draft",
                "backend": "memory",
                "documents": len(new),
                "seconds": round(drafted, 2),
                "documents_per_second": round(len(new) / drafted, 1),
                "statuses": statuses,
                "includes": "recall, propose, validate, route",
                "target_documents_per_second": 200,
                "peak_rss_mib": _rss_mib(),
            }
        ),
        flush=True,
    )

    if args.inbox:
        del index, backend, history, new
        gc.collect()
        _draft_through_graph(args.chart, args.seed, args.inbox)


def _draft_through_graph(chart: str, seed: int, inbox: int) -> None:
    """Time ``draft_pending`` (graph, checkpoints, store) over a fresh 5-year company."""
    from ledgerpilot.agent.drafting import draft_pending
    from ledgerpilot.connectors import ReferenceAIS
    from ledgerpilot.review import ProposalStore

    company = generate(chart, years=5, inbox=inbox, seed=seed, per_year=2_500)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (
            ReferenceAIS.create(f"sqlite:///{folder / 'ais.sqlite'}") as ais,
            ProposalStore.create(f"sqlite:///{folder / 'store.sqlite'}") as store,
        ):
            ais.load(company.history(), chart=company.chart)
            ais.load(company.inbox)
            index = HistoryIndex.build(ais.history(), ais.chart())
            backend = MemoryBackend(index, ais.chart())
            statuses: dict[str, int] = {}
            started = time.perf_counter()
            for outcome in draft_pending(ais, store, backend):
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            drafted = time.perf_counter() - started
    done = sum(statuses.values())
    print(
        json.dumps(
            {
                "step": "draft_through_graph",
                "backend": "memory",
                "documents": done,
                "seconds": round(drafted, 2),
                "documents_per_second": round(done / drafted, 1),
                "statuses": statuses,
                "includes": "LangGraph graph to the review interrupt, SQLite checkpoint, "
                "proposal saved in the store",
                "target_documents_per_second": 200,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
