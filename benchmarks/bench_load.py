"""Benchmark: a load of documents drafted through the queue, and the workers' memory over it.

Issue 8 asks for 100,000 documents through the queue with the ``memory`` backend at the
documented throughput (``bench_queue_workers.py``: at least 50 documents a second on two
worker processes), with the worker processes' memory stable over the run. A synthetic
company (one year of history, ``--documents`` pending) goes into a new PostgreSQL AIS
database, a new store database beside it; ``ledgerpilot worker --concurrency N`` runs on
Redis; ``poll_ais`` is sent as beat sends it, and the clock stops when every pending
document has its proposal. Meanwhile the resident memory (RSS) of the worker's main
process and of each pool process is sampled with psutil every ``--sample-seconds``.

Prints one JSON object per line: the company, then the run (documents per second, overall
and after the first tenth; statuses; documents drafted more than once), then per worker
process its RSS at the start of the steady state (when a tenth is drafted), its peak, its
end, and the slope of a least-squares line through the steady-state samples, in MiB per
10,000 documents drafted (about zero when memory is stable). ``--plot FILE.png`` draws the
RSS over the documents drafted::

    make bench-load                                  # 100,000 documents (half an hour)
    .venv/bin/python benchmarks/bench_load.py --documents 2000
    .venv/bin/python benchmarks/bench_load.py --documents 20000 --plot benchmarks/out/load.png

The databases are made and dropped here; Redis database ``--redis-db`` (15 by default,
which the test suite does not use) is flushed before and after. The reduced run is also a
test (``tests/reliability/test_load.py``), through :func:`run_load`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import create_engine, text

from ledgerpilot.config import Settings
from ledgerpilot.review import ProposalStore
from ledgerpilot.synth import generate
from ledgerpilot.workers import POLL_AIS, create_app

try:  # imported as benchmarks.bench_load (tests/reliability/test_load.py)
    from benchmarks import bench_queue_workers as queue_workers
except ModuleNotFoundError:  # run as a script: benchmarks/ is first on sys.path
    queue_workers = importlib.import_module("bench_queue_workers")

TARGET_PER_SECOND = queue_workers.TARGET_PER_SECOND
"""The documented throughput (issue 4, ``bench_queue_workers.py``)."""
MIB = 1024 * 1024


@dataclass
class Sample:
    """The RSS of each worker process at one moment, with the documents drafted by then."""

    seconds: float
    drafted: int
    rss: dict[str, int]
    """Bytes, by process (``main``, ``pool-1``, ...)."""


@dataclass
class LoadResult:
    """What a load run measured."""

    documents: int
    seconds: float
    steady_per_second: float | None
    statuses: dict[str, int]
    drafted_twice: int
    """Documents with more than one proposal (0 when every document is drafted once)."""
    undrafted: int
    samples: list[Sample] = field(default_factory=list)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def memory(self) -> dict[str, dict[str, float]]:
        """Per worker process: RSS at the steady state's start, peak, end (MiB), and the
        slope over the steady state (MiB per 10,000 documents)."""
        steady_from = self.documents // 10
        found: dict[str, dict[str, float]] = {}
        names = sorted({name for s in self.samples for name in s.rss})
        for name in names:
            series = [(s.drafted, s.rss[name]) for s in self.samples if name in s.rss]
            steady = [(d, r) for d, r in series if d >= steady_from] or series
            if not steady:
                continue
            found[name] = {
                "start_mib": round(steady[0][1] / MIB, 1),
                "peak_mib": round(max(r for _, r in series) / MIB, 1),
                "end_mib": round(steady[-1][1] / MIB, 1),
                "slope_mib_per_10k": round(_slope(steady) * 10_000 / MIB, 2),
            }
        return found


def _slope(points: list[tuple[int, int]]) -> float:
    """The least-squares slope of ``points`` (bytes per document); 0 for fewer than 2."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


def rss_of(main: psutil.Process) -> dict[str, int]:
    """The RSS of the worker's main process and of each pool process (by start order)."""
    found: dict[str, int] = {}
    with contextlib.suppress(psutil.Error):
        found["main"] = main.memory_info().rss
        children = sorted(main.children(), key=lambda p: (p.create_time(), p.pid))
        for n, child in enumerate(children, start=1):
            with contextlib.suppress(psutil.Error):
                found[f"pool-{n}"] = child.memory_info().rss
    return found


def run_load(
    *,
    documents: int,
    ais_url: str,
    store_url: str,
    broker: str,
    data_dir: Path,
    concurrency: int = 2,
    years: int = 1,
    per_year: int = 2_500,
    chart: str = "hr",
    seed: int = 7,
    sample_seconds: float = 1.0,
    limit_seconds: float = 7_200.0,
    report: Callable[[dict[str, Any]], None] = lambda _: None,
    progress: bool = False,
) -> LoadResult:
    """Load a company with ``documents`` pending into empty AIS and store databases, draft
    them through the queue on one worker with ``concurrency`` pool processes, sampling
    their memory; what was measured. ``broker``: a Redis URL whose database is flushed."""
    queue_db = redis.Redis.from_url(broker)
    queue_db.flushdb()
    company = generate(chart, years=years, inbox=documents, seed=seed, per_year=per_year)
    report(queue_workers.load_company(company, ais_url, store_url, documents))
    env = queue_workers.worker_env(str(data_dir), ais_url, store_url, broker)
    settings = Settings(data_dir=data_dir, broker_url=broker, result_backend="disabled")
    samples: list[Sample] = []
    drafted = 0
    stop = threading.Event()
    try:
        with queue_workers.worker(env, concurrency, data_dir / "worker.log") as process:
            main = psutil.Process(process.pid)
            clock = time.perf_counter()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(Sample(time.perf_counter() - clock, drafted, rss_of(main)))
                    stop.wait(sample_seconds)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            app = create_app(settings)
            try:
                app.send_task(POLL_AIS, ignore_result=True)
            finally:
                app.close()
            bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                disable=not progress,
                transient=False,
            )
            with ProposalStore(store_url) as store, bar:
                task = bar.add_task("drafting through the queue", total=documents)
                tenth: tuple[float, int] | None = None
                while True:
                    drafted = sum(store.counts().values())
                    now = time.perf_counter()
                    bar.update(task, completed=drafted)
                    if tenth is None and drafted >= documents // 10:
                        tenth = (now, drafted)
                    if drafted >= documents:
                        break
                    if now - clock > limit_seconds:
                        raise SystemExit(f"only {drafted} of {documents} drafted")
                    time.sleep(0.25)
                counts = store.counts()
            seconds = now - clock
            stop.set()
            sampler.join()
            samples.append(Sample(seconds, drafted, rss_of(main)))
    finally:
        stop.set()
        queue_db.flushdb()
        queue_db.close()
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            twice = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT document_id FROM proposals"
                    " GROUP BY document_id HAVING count(*) > 1) AS t"
                )
            ).scalar_one()
            distinct = conn.execute(
                text("SELECT count(DISTINCT document_id) FROM proposals")
            ).scalar_one()
    finally:
        engine.dispose()
    steady = None
    if tenth is not None and now > tenth[0]:
        steady = (drafted - tenth[1]) / (now - tenth[0])
    return LoadResult(
        documents=documents,
        seconds=seconds,
        steady_per_second=steady,
        statuses={k: v for k, v in counts.items() if v},
        drafted_twice=int(twice),
        undrafted=documents - int(distinct),
        samples=samples,
        load_average=os.getloadavg(),
    )


def plot(result: LoadResult, path: Path) -> None:
    """RSS of each worker process over the documents drafted, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for name in sorted({n for s in result.samples for n in s.rss}):
        points = [(s.drafted, s.rss[name] / MIB) for s in result.samples if name in s.rss]
        axes.plot([p[0] for p in points], [p[1] for p in points], label=name)
    axes.set_xlabel("documents drafted")
    axes.set_ylabel("resident memory (MiB)")
    axes.set_title(
        f"Worker memory over {result.documents:,} documents "
        f"({result.documents / result.seconds:.1f} documents/s)"
    )
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    """Run the load and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    queue_workers.add_company_options(
        parser, documents=10_000, years=1, concurrency_help="worker pool processes"
    )
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="RSS sampling period")
    parser.add_argument("--plot", type=Path, default=None, help="write the RSS chart here (PNG)")
    queue_workers.add_server_options(parser)
    args = parser.parse_args()

    def report(line: dict[str, Any]) -> None:
        print(json.dumps(line), flush=True)

    report({"step": "start", "load_average": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count()})  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        queue_workers.database(args.postgres, "bench_load") as ais_url,
        queue_workers.database(args.postgres, "bench_load") as store_url,
    ):
        result = run_load(
            documents=args.documents,
            ais_url=ais_url,
            store_url=store_url,
            broker=f"redis://{args.redis}/{args.redis_db}",
            data_dir=Path(tmp),
            concurrency=args.concurrency,
            years=args.years,
            per_year=args.per_year,
            chart=args.chart,
            seed=args.seed,
            sample_seconds=args.sample_seconds,
            report=report,
            progress=sys.stderr.isatty(),
        )
    report(
        {
            "step": "draft through the queue",
            "documents": result.documents,
            "pool_processes": args.concurrency,
            "seconds": round(result.seconds, 1),
            "documents_per_second": round(result.documents / result.seconds, 1),
            "after_the_first_tenth_per_second": None
            if result.steady_per_second is None
            else round(result.steady_per_second, 1),
            "target_per_second": TARGET_PER_SECOND,
            "statuses": result.statuses,
            "drafted_twice": result.drafted_twice,
            "undrafted": result.undrafted,
            "load_average": [round(x, 2) for x in result.load_average],
        }
    )
    report({"step": "worker memory", "rss": result.memory(), "samples": len(result.samples)})
    if args.plot:
        plot(result, args.plot)
        report({"step": "plot", "path": str(args.plot)})


if __name__ == "__main__":
    main()
