"""A real Celery worker for the tests, with a short retry policy: ``python -m tests.workers.worker_process``.

The settings come from the ``LEDGERPILOT_*`` environment the test gives the process, as
``ledgerpilot worker`` reads them; only the pool and the retry policy are the test's.
"""

from __future__ import annotations

import argparse

from ledgerpilot.config import Settings
from ledgerpilot.workers import RetryPolicy, run_worker


def main() -> None:
    """Run the worker until it is stopped."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", default="solo")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--hostname", default=None)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--first-delay", type=float, default=0.2)
    args = parser.parse_args()
    run_worker(
        Settings(),
        concurrency=args.concurrency,
        loglevel="INFO",
        pool=args.pool,
        hostname=args.hostname,
        retry=RetryPolicy(max_retries=args.retries, first_delay=args.first_delay, max_delay=2.0),
    )


if __name__ == "__main__":
    main()
