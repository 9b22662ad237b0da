"""Benchmark: how much the memory backend could auto-approve at 99.5 % precision.

Issue 3's target is precision >= 99.5 % at coverage >= 60 % on the last year of a
synthetic company. The gold is what the company's clerks posted, and synth gives them
slips on purpose (a wrong expense account, a payment booked to the other payables
account, an old account out of habit after a policy change); each slip is logged
(``SyntheticCompany.history_slips``). A slip in the held-out year is a gold entry that a
careful bookkeeper would not have made, so no drafter can predict it. This script scores
the same drafts twice: against the posted gold, and with the documents whose gold carries
a logged slip set aside. Prints one JSON object per seed::

    .venv/bin/python benchmarks/bench_routing.py                  # hr, seeds 1 2 7
    .venv/bin/python benchmarks/bench_routing.py --chart de_skr03 --seeds 3 4
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import time

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.synth import generate
from ledgerpilot.training.evaluation import draft_in_process
from ledgerpilot.training.metrics import score, threshold_for_precision

TARGET_PRECISION = 0.995


def main() -> None:
    """Run the benchmark for each seed and print its figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", default="hr")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--per-year", type=int, default=2_500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 7])
    args = parser.parse_args()
    for seed in args.seeds:
        print(json.dumps(_one(args.chart, args.years, args.per_year, seed)), flush=True)


def _one(chart: str, years: int, per_year: int, seed: int) -> dict[str, object]:
    started = time.perf_counter()
    company = generate(chart, years=years, inbox=0, seed=seed, per_year=per_year)
    slipped = {slip.document for slip in company.history_slips()}
    cut = dt.date(company.end_year, 1, 1)
    documents = list(company.history())
    history = [d for d in documents if d.date < cut]
    held_out = [d for d in documents if d.date >= cut and d.entry is not None]
    index = HistoryIndex.build(history, company.chart)
    backend = MemoryBackend(index, company.chart)
    policy = RoutingPolicy()
    posted: list[tuple[float, bool]] = []
    careful: list[tuple[float, bool]] = []
    for document in held_out:
        assert document.entry is not None
        draft = draft_in_process(
            backend, index, company.chart, dataclasses.replace(document, entry=None), policy
        )
        proposal = draft.proposal
        right = bool(
            proposal is not None
            and proposal.scheme is not None
            and score(proposal.scheme, document.entry.lines, valid=not draft.violations).exact_entry
        )
        pair = (proposal.confidence if proposal else 0.0, right)
        posted.append(pair)
        if document.id not in slipped:
            careful.append(pair)
    return {
        "chart": chart,
        "seed": seed,
        "held_out": len(held_out),
        "gold_with_logged_slip": len(held_out) - len(careful),
        "target_precision": TARGET_PRECISION,
        "against_posted_gold": _at_target(posted),
        "slipped_gold_set_aside": _at_target(careful),
        "target_coverage": 0.60,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _at_target(pairs: list[tuple[float, bool]]) -> dict[str, float] | None:
    found = threshold_for_precision(pairs, TARGET_PRECISION)
    if found is None:
        return None
    threshold, coverage = found
    return {"threshold": round(threshold, 6), "coverage": round(coverage, 4)}


if __name__ == "__main__":
    main()
