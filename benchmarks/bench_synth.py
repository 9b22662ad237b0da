"""Benchmark: build a synthetic company of 17 years x 25,000 documents into SQLite and PostgreSQL.

Target (issue 2): SQLite in at most 120 s with peak memory under 2 GiB; PostgreSQL reported.
Each run happens in a fresh child process so that its peak RSS is its own.

    python benchmarks/bench_synth.py [--years 17] [--per-year 25000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def child(url: str, chart: str, years: int, per_year: int) -> None:
    """Generate and load one company; print timings and peak RSS as JSON."""
    from ledgerpilot.connectors import ReferenceAIS
    from ledgerpilot.synth import generate

    started = time.perf_counter()
    company = generate(chart, years=years, inbox=100, seed=42, per_year=per_year)
    with ReferenceAIS.create(url) as ais:
        report = ais.load(company.history(), chart=company.chart)
        ais.load(company.inbox)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "documents": report.inserted,
                "journal_lines": report.lines,
                "seconds": round(elapsed, 1),
                "docs_per_s": round(report.inserted / elapsed),
                "peak_rss_mib": round(peak_kib / 1024),
            }
        )
    )


def generation_only(chart: str, years: int, per_year: int) -> dict[str, float]:
    """Time the generator alone, without a database."""
    from ledgerpilot.synth import generate

    started = time.perf_counter()
    company = generate(chart, years=years, inbox=100, seed=42, per_year=per_year)
    count = sum(1 for _ in company.history())
    elapsed = time.perf_counter() - started
    return {"documents": count, "seconds": round(elapsed, 1), "docs_per_s": round(count / elapsed)}


def run_child(url: str, args: argparse.Namespace) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--chart",
            args.chart,
            "--years",
            str(args.years),
            "--per-year",
            str(args.per_year),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--years", type=int, default=17)
    parser.add_argument("--per-year", type=int, default=25_000)
    parser.add_argument("--chart", default="hr")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.chart, args.years, args.per_year)
        return

    print(f"synth: chart {args.chart}, {args.years} years x ~{args.per_year} documents")
    print("generation only:", json.dumps(generation_only(args.chart, args.years, args.per_year)))
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run_child(f"sqlite:///{Path(tmp) / 'ais.sqlite'}", args)
    print("SQLite   (target <= 120 s, < 2048 MiB):", json.dumps(sqlite))
    if not args.no_postgres:
        import psycopg

        name = f"lp_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            pg = run_child(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args)
        finally:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print("PostgreSQL:", json.dumps(pg))


if __name__ == "__main__":
    main()
