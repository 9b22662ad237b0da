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

AisOption = Annotated[
    str | None,
    typer.Option(
        "--ais",
        help="SQLAlchemy URL of the AIS database (default: "
        "LEDGERPILOT_AIS_URL, else the demo company under var/).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _ais_url(ais: str | None) -> str:
    return ais or get_settings().default_ais_url()


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Posting-scheme JSON file ('-' for stdin).")],
    ais: AisOption = None,
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
        with open_ais(_ais_url(ais)) as connector:
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
    from .connectors import ConnectorError, open_ais
    from .connectors import export as export_ais

    try:
        with open_ais(_ais_url(ais)) as connector:
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
            open_ais(_ais_url(ais)) as connector,
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


@app.command("eval")
def eval_(
    holdout_from: Annotated[
        str,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: documents posted from this date on are drafted "
            "as if new and compared with what was posted; earlier ones are the history.",
        ),
    ],
    ais: AisOption = None,
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
) -> None:
    """Benchmark a backend against the posting history (and smart_importer beside it)."""
    import datetime as dt

    from .agent.backends.factory import BackendNotConfigured, make_backend
    from .connectors import ConnectorError, open_ais
    from .training.evaluation import run_eval

    try:
        holdout = dt.date.fromisoformat(holdout_from)
    except ValueError:
        raise _fail(f"--holdout-from {holdout_from!r} is not a date as YYYY-MM-DD") from None
    settings = get_settings()
    try:
        with open_ais(_ais_url(ais)) as connector, _progress() as progress:
            task = progress.add_task(f"drafting with {backend}", total=None)
            result = run_eval(
                connector,
                holdout,
                backend,
                make_backend=None
                if backend == "smart_importer"
                else (lambda index, chart: make_backend(backend, index, chart, settings)),
                baseline=not no_baseline,
                limit=limit,
                on_progress=lambda n, total: progress.update(task, completed=n, total=total),
                max_repairs=settings.max_repairs,
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
) -> None:
    """The main job on the embedded default: a synthetic company in SQLite, drafts for its
    inbox in the proposal store, and how many of them the hidden truth says are right."""
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
    from .connectors import open_ais

    with open_ais(ais_url) as connector:
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
    _draft_demo_inbox(ais_url, store_url, demo_dir / "truth.jsonl")
    out.print(
        f"AIS: {ais_url}\nproposals: {store_url}\n"
        f"Try: ledgerpilot eval --ais {ais_url} --holdout-from 2025-01-01 --report "
        f"{demo_dir / 'report'}"
    )


def _draft_demo_inbox(ais_url: str, store_url: str, truth_file: Path) -> None:
    """Draft the demo inbox with the memory backend and score the drafts against the truth."""
    from .agent.backends.memory import MemoryBackend
    from .agent.drafting import draft_pending
    from .agent.recall import HistoryIndex
    from .connectors import open_ais, read_documents
    from .ledger import parse_scheme
    from .review import ProposalStore
    from .training.metrics import score

    with open_ais(ais_url) as connector, ProposalStore.create(store_url) as proposals:
        chart = connector.chart()
        index = HistoryIndex.build(connector.history(), chart)
        with _progress() as progress:
            task = progress.add_task("drafting the inbox", total=None)
            for _ in draft_pending(
                connector,
                proposals,
                MemoryBackend(index, chart),
                on_progress=lambda n, total: progress.update(task, completed=n, total=total),
            ):
                pass
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
    table = Table(title="the inbox, drafted with the memory backend")
    table.add_column("proposals by status")
    table.add_column("count", justify="right")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    if drafted:
        table.add_row("exactly right per the hidden truth", f"{right} of {drafted}")
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
