"""Benchmark: what the audit's language-model surprise costs per entry on this machine.

Scores ``--entries`` posted documents of a small synthetic company (hr chart, seed 7, one
year of 300 documents), each with the latest earlier document of its partner and kind as
its prompt's example, as :func:`ledgerpilot.audit.lm_surprise.add_lm_surprise` does, and
prints one JSON line: seconds (wall and CPU) and tokens per entry, and the quartiles of the
bits per token and of each entry's most unlikely account (what the check judges; they mean
something only for a model fine-tuned on this company). ``--model tiny`` builds the
test suite's tiny model; a Gemma 3 270M directory comes from ``make bench-sft``
(``var/models/gemma-3-270m``).

    nice -n 10 .venv/bin/python benchmarks/bench_lm_surprise.py --model tiny
    nice -n 10 .venv/bin/python benchmarks/bench_lm_surprise.py --model var/models/gemma-3-270m
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from ledgerpilot.audit.lm_surprise import LMSurpriseSettings, SchemeScorer, choose, percentile
from ledgerpilot.synth import generate
from ledgerpilot.training.tiny_model import build_test_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="a model directory, or tiny")
    parser.add_argument("--adapter", action="append", default=[], help="PEFT adapter (repeat)")
    parser.add_argument("--entries", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--compact", action="store_true", help="the compact prompt")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model
    if model == "tiny":
        model = str(build_test_model(tempfile.mkdtemp(prefix="lm-bench-")))
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    history = list(company.history())
    since = history[len(history) // 2].date  # the second half, with examples before it
    chosen = choose(history, since, [], LMSurpriseSettings(limit=args.entries, seed=1))
    started = time.monotonic()
    scorer = SchemeScorer(model, args.adapter, compact=args.compact, batch_size=args.batch_size)
    loaded, cpu = time.monotonic(), time.process_time()
    scores = scorer.score(chosen.items, company.chart)
    done, cpu = time.monotonic(), time.process_time() - cpu
    per_token = sorted(s.per_token for s in scores)
    line_bits = sorted(s.line_bits for s in scores)
    print(
        json.dumps(
            {
                "model": scorer.name,
                "device": scorer.device,
                "threads": torch.get_num_threads(),
                "prompt": "compact" if args.compact else "full",
                "entries": len(scores),
                "batch_size": args.batch_size,
                "load_seconds": round(loaded - started, 2),
                "seconds_per_entry": round((done - loaded) / len(scores), 3),
                "cpu_seconds_per_entry": round(cpu / len(scores), 3),
                "tokens_per_entry": round(sum(s.input_tokens for s in scores) / len(scores)),
                "scored_tokens_per_entry": round(sum(s.tokens for s in scores) / len(scores)),
                "bits_per_token_quartiles": [
                    round(percentile(per_token, q), 3) for q in (0.25, 0.5, 0.75)
                ],
                "worst_account_bits_quartiles": [
                    round(percentile(line_bits, q), 2) for q in (0.25, 0.5, 0.75)
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
