"""Benchmark: in-process validation of posting schemes against a chart and their documents.

Target (issue 2): at least 20,000 schemes per second. The schemes are the posted entries of a
synthetic company on the Croatian chart (554 accounts), each checked with its document.

    python benchmarks/bench_validate.py [--documents 20000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

from ledgerpilot.ledger import PostingScheme, validate
from ledgerpilot.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--chart", default="hr")
    args = parser.parse_args()
    company = generate(args.chart, years=3, inbox=0, seed=3, per_year=args.documents // 3 + 1)
    pairs = []
    for doc in itertools.islice(company.history(), args.documents):
        assert doc.entry is not None
        pairs.append((PostingScheme(doc.id, doc.kind, "", doc.entry.lines), doc))
    chart = company.chart
    best = 0.0
    invalid = 0
    for _ in range(3):
        started = time.perf_counter()
        invalid = sum(1 for scheme, doc in pairs if validate(scheme, chart, doc))
        best = max(best, len(pairs) / (time.perf_counter() - started))
    lines = sum(len(s.lines) for s, _ in pairs) / len(pairs)
    print(
        "validate (target >= 20000 schemes/s):",
        json.dumps(
            {
                "schemes": len(pairs),
                "mean_lines": round(lines, 2),
                "schemes_per_s": round(best),
                "with_violations": invalid,
            }
        ),
    )


if __name__ == "__main__":
    main()
