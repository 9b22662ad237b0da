"""Batched decoding on the ``local`` backend: seconds per document by batch size and threads.

Drafts the same held-out documents (their prompts as ``run_eval`` builds them: five
recalled examples, of which the prompt shows ``--shots``) with one ``LocalBackend`` at each
batch size and torch thread count, a thread per document in flight as ``run_eval
--workers`` does, and reports per setting: seconds per document, generated tokens per
second, the prompt and answer lengths, the prefill's share (batch 1), and how many answers
differ from the one-at-a-time answers (float rounding of padded batches can flip a near
tie; the figures say how often). One JSON line per setting on stdout, a table on stderr.

    python benchmarks/bench_local_batch.py --ais sqlite:///var/bench-sft/company/ais.sqlite \\
        --holdout 2031-01-01 --ids benchmarks/out/test_docs.txt --docs 16 --shots 2 \\
        --batch-sizes 1,4,8,16 --threads 1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def requests_for(args: argparse.Namespace) -> tuple[list[Any], int]:
    """The draft requests of the chosen held-out documents, and the history's size."""
    from ledgerpilot.agent.backends.base import DraftRequest
    from ledgerpilot.agent.recall import HistoryIndex
    from ledgerpilot.connectors import open_ais

    holdout = dt.date.fromisoformat(args.holdout)
    with open_ais(args.ais) as ais:
        chart = ais.chart()
        index = HistoryIndex.build(ais.history(until=holdout), chart)
        held = [d for d in ais.history(since=holdout) if d.entry is not None]
    if args.ids:
        lines = Path(args.ids).read_text(encoding="utf-8").splitlines()
        wanted = [i.strip() for i in lines if i.strip() and not i.startswith("#")]
        by_id = {d.id: d for d in held}
        held = [by_id[i] for i in wanted]
    held = held[: args.docs]
    requests = []
    for document in held:
        stripped = dataclasses.replace(document, entry=None)
        examples = tuple(r.document for r in index.recall(stripped, k=5))
        requests.append(DraftRequest(stripped, chart, examples))
    return requests, index.indexed


def prefill_seconds(backend: Any, request: Any) -> float:
    """One forward pass over the prompt (the logits of its last token only)."""
    import torch

    from ledgerpilot.agent.prompts import prompt_for

    prompt = prompt_for(request, backend.max_chars, backend.compact, backend.max_examples)
    inputs = backend.tokenizer.apply_chat_template(
        prompt.messages(), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    started = time.monotonic()
    with torch.inference_mode():
        backend.model(**inputs, logits_to_keep=1)
    return time.monotonic() - started


def run(backend: Any, requests: Sequence[Any], batch: int) -> tuple[float, list[Any]]:
    backend.batch_size = batch
    started = time.monotonic()
    if batch == 1:
        proposals = [backend.propose(r) for r in requests]
    else:
        with ThreadPoolExecutor(max_workers=batch) as pool:
            proposals = list(pool.map(backend.propose, requests))
    return time.monotonic() - started, proposals


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--ais", required=True, help="SQLAlchemy URL of the AIS")
    add("--holdout", required=True, help="YYYY-MM-DD: the hold-out's first day")
    add("--ids", default=None, help="a file of held-out document ids (test_docs.txt)")
    add("--docs", type=int, default=16, help="documents drafted per setting")
    add("--docs-alone", type=int, default=None, help="documents at batch 1 (default: --docs)")
    add("--model", type=Path, default=Path("var/models/gemma-3-270m"))
    add("--adapter", type=Path, action="append", default=[], help="PEFT adapter (repeat)")
    add("--shots", type=int, default=2, help="retrieved examples shown (0: zero-shot)")
    add("--max-new-tokens", type=int, default=400)
    add("--lookup-tokens", type=int, default=0, help="prompt lookup at batch 1 (0: off)")
    add("--batch-sizes", default="1,4,8,16")
    add("--threads", default="1,2", help="torch thread counts")
    add("--prefill", type=int, default=4, help="documents whose prefill is timed alone")
    add("--save", type=Path, default=None, help="write every answer here (JSON lines)")
    args = parser.parse_args(argv)
    import torch

    from ledgerpilot.agent.backends.local import LocalBackend

    requests, indexed = requests_for(args)
    backend = LocalBackend(
        args.model,
        adapters=args.adapter,
        max_new_tokens=args.max_new_tokens,
        compact=True,
        max_examples=args.shots,
        lookup_tokens=args.lookup_tokens or None,
    )
    console.print(f"{len(requests)} documents, history of {indexed}; {backend.model_name}")
    table = Table("threads", "batch", "docs", "s/doc", "gen tok/s", "prompt", "answer", "same")
    reference: dict[int, dict[str, Any]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for batch in [int(b) for b in args.batch_sizes.split(",")]:
            chosen = requests[: args.docs_alone] if batch == 1 else requests
            load = os.getloadavg()
            wall, proposals = run(backend, chosen, batch)
            generated = sum(int(p.extra["completion_tokens"]) for p in proposals)
            prompts = [int(p.extra["prompt_tokens"]) for p in proposals]
            answers = [int(p.extra["completion_tokens"]) for p in proposals]
            row: dict[str, Any] = {
                "threads": threads,
                "batch": batch,
                "documents": len(proposals),
                "seconds": round(wall, 1),
                "seconds_per_document": round(wall / len(proposals), 2),
                "generated_tokens_per_second": round(generated / wall, 1),
                "prompt_tokens_mean": round(sum(prompts) / len(prompts)),
                "prompt_tokens_max": max(prompts),
                "answer_tokens_mean": round(sum(answers) / len(answers)),
                "answer_tokens_max": max(answers),
                "finished_by_length": sum(p.extra["finish_reason"] == "length" for p in proposals),
                "parsed": sum(p.scheme is not None for p in proposals),
                "batches_seen": sorted({int(p.extra["batch"]) for p in proposals}),
                "load_before": [round(x, 2) for x in load],
                "load_after": [round(x, 2) for x in os.getloadavg()],
            }
            docs = [r.document.id for r in chosen]
            if batch == 1:
                reference[threads] = dict(zip(docs, proposals, strict=True))
                if args.prefill:
                    spent = [prefill_seconds(backend, r) for r in chosen[: args.prefill]]
                    decode = [
                        (float(p.extra["seconds"]) - s) / max(1, int(p.extra["completion_tokens"]))
                        for p, s in zip(proposals, spent, strict=False)
                    ]
                    row["prefill_seconds_mean"] = round(sum(spent) / len(spent), 2)
                    row["decode_seconds_per_token"] = round(sum(decode) / len(decode), 4)
            # The one-at-a-time answers of the same thread count, else of any.
            alone = reference.get(threads) or next(iter(reference.values()), {})
            pairs = [(d, alone[d], p) for d, p in zip(docs, proposals, strict=True) if d in alone]
            row["compared"] = len(pairs)
            row["same_answer"] = sum(a.raw == b.raw for _, a, b in pairs)
            row["confidence_max_diff"] = max(
                (abs(a.confidence - b.confidence) for _, a, b in pairs if a.raw == b.raw),
                default=0.0,
            )
            row["differing"] = [
                {"document": d, "alone": a.raw[:300], "batched": b.raw[:300]}
                for d, a, b in pairs
                if a.raw != b.raw
            ][:3]
            print(json.dumps(row), flush=True)
            if args.save is not None:
                with args.save.open("a", encoding="utf-8") as out:
                    for d, p in zip(docs, proposals, strict=True):
                        answer = {"raw": p.raw, "confidence": p.confidence, **p.extra}
                        out.write(json.dumps({"threads": threads, "document": d, **answer}) + "\n")
            table.add_row(
                str(threads),
                str(batch),
                str(row["documents"]),
                str(row["seconds_per_document"]),
                str(row["generated_tokens_per_second"]),
                str(row["prompt_tokens_mean"]),
                str(row["answer_tokens_mean"]),
                f"{row['same_answer']}/{row['compared']}",
            )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
