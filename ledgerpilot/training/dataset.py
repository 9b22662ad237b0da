"""Supervised examples from an AIS's posted history, split by date, for fine-tuning.

Two tasks, both in chat form (``messages`` with system, user and assistant turns):

* ``entry``: a concrete document -> its posting scheme. The question is exactly the prompt
  of the ``llm`` and ``local`` backends (:func:`~ledgerpilot.agent.prompts.build_prompt`)
  and the answer exactly :func:`~ledgerpilot.agent.prompts.render_scheme` of the posted
  entry, so the served model sees what it was trained on. By default each prompt shows the
  one latest earlier document of the same partner and kind as its example (as the backends
  show retrieved examples), which keeps the prompt compact; ``examples=0`` leaves them out.
  ``compact=True`` uses the backends' compact prompt (short system message, chart only from
  the example), for small models and short sequences.
* ``scheme``: the posting scheme of a kind of document of a partner in a year, with the
  basis of each line's amount (see :mod:`.scheme_task`).

Documents whose posted entry does not validate against the chart and the document are left
out (they would teach mistakes); so are repeated examples (the same messages once) and, in
:func:`build_dataset`, examples longer than ``max_tokens``. The split is by date: ``train``
holds what is dated before ``holdout_from``, ``test`` the rest. An entry example is dated by
its document and shows only earlier documents; a scheme example is dated on 31 December of
its year, so a year that straddles the holdout date goes to ``test`` as a whole and
nothing of the test period reaches ``train``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..agent.prompts import DEFAULT_MAX_CHARS, build_prompt, render_scheme
from ..ledger import ChartOfAccounts, Document, check_scheme
from .scheme_task import (
    SCHEME_SYSTEM_PROMPT,
    Structure,
    entry_structure,
    most_frequent,
    scheme_answer,
    scheme_question,
)

TASKS = ("entry", "scheme")
DEFAULT_EXAMPLES = 1
"""Earlier documents of the same partner and kind shown in an entry prompt."""
SAMPLES = 5
"""Ids kept per reason for dropping, to show in the data card."""

Progress = Callable[[str, int, int | None], None]
"""``(stage, done, total)``: called as the work goes on (``total`` ``None`` when unknown)."""


class HistorySource(Protocol):
    """What curation reads: any AIS connector (:class:`~ledgerpilot.connectors.AIS`)."""

    def chart(self) -> ChartOfAccounts: ...

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterable[Document]: ...


@dataclass(frozen=True)
class Example:
    """One supervised example: a chat and where it comes from."""

    messages: tuple[dict[str, str], ...]
    """System, user and assistant turns (``role``, ``content``)."""
    task: str
    """``"entry"`` or ``"scheme"``."""
    document: str
    """The document's id; for a scheme ``scheme:<kind>:<partner>:<year>``."""
    kind: str
    date: dt.date
    """The document's date; for a scheme the last day of its year."""
    partner: str
    """The partner's id, ``""`` for documents without one."""
    year: int
    sources: int = 1
    """Posted entries the answer is drawn from (1 for an entry; the winning count for a scheme)."""

    @property
    def key(self) -> str:
        """The messages as canonical JSON: examples with the same key are duplicates."""
        return json.dumps(self.messages, ensure_ascii=False, sort_keys=True)

    @property
    def answer(self) -> str:
        """The assistant's message."""
        return self.messages[-1]["content"]

    def as_json(self) -> dict[str, Any]:
        """The JSON Lines record (the layout train.jsonl and test.jsonl use)."""
        return {
            "messages": list(self.messages),
            "task": self.task,
            "document": self.document,
            "kind": self.kind,
            "date": self.date.isoformat(),
            "partner": self.partner,
            "year": self.year,
            "sources": self.sources,
        }


@dataclass
class Dropped:
    """What was left out and why: counts and a few ids per reason."""

    reasons: dict[str, int] = field(default_factory=dict)
    """``invalid_entry``, ``duplicate``, ``too_long``: how many of each."""
    violations: dict[str, int] = field(default_factory=dict)
    """Violation codes of the invalid entries, counted."""
    samples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, ident: str) -> None:
        """Count one dropped example (or document) for ``reason``."""
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        shown = self.samples.setdefault(reason, [])
        if len(shown) < SAMPLES:
            shown.append(ident)

    def as_json(self) -> dict[str, Any]:
        """The counts as JSON."""
        return {
            "reasons": dict(sorted(self.reasons.items())),
            "invalid_entry_violations": dict(sorted(self.violations.items())),
            "samples": dict(sorted(self.samples.items())),
        }


@dataclass
class Dataset:
    """Curated examples split by date, and what was dropped."""

    train: list[Example]
    test: list[Example]
    dropped: Dropped
    holdout_from: dt.date
    tasks: tuple[str, ...]
    examples: int
    """Earlier documents shown per entry prompt."""
    documents: int = 0
    """Posted documents read from the history."""
    first_date: dt.date | None = None
    last_date: dt.date | None = None


def entry_example(
    document: Document,
    chart: ChartOfAccounts,
    examples: Sequence[Document] = (),
    max_chars: int = DEFAULT_MAX_CHARS,
    compact: bool = False,
) -> Example:
    """The ``entry`` example of a posted document: the backends' prompt -> its posted scheme."""
    prompt = build_prompt(document, chart, examples, max_chars=max_chars, compact=compact)
    return Example(
        messages=tuple(prompt.messages(render_scheme(document))),
        task="entry",
        document=document.id,
        kind=document.kind,
        date=document.date,
        partner=document.partner.id if document.partner else "",
        year=document.date.year,
    )


def scheme_example(
    kind: str, partner_id: str, partner_name: str, year: int, structures: Sequence[Structure]
) -> Example:
    """The ``scheme`` example of a partner's kind of document in a year, from its entries."""
    structure, count = most_frequent(structures)
    return Example(
        messages=(
            {"role": "system", "content": SCHEME_SYSTEM_PROMPT},
            {"role": "user", "content": scheme_question(kind, partner_id, partner_name, year)},
            {"role": "assistant", "content": scheme_answer(kind, partner_id, year, structure)},
        ),
        task="scheme",
        document=f"scheme:{kind}:{partner_id}:{year}",
        kind=kind,
        date=dt.date(year, 12, 31),
        partner=partner_id,
        year=year,
        sources=count,
    )


def curate(
    source: HistorySource,
    holdout_from: dt.date,
    tasks: Sequence[str] = TASKS,
    examples: int = DEFAULT_EXAMPLES,
    max_chars: int = DEFAULT_MAX_CHARS,
    on_progress: Progress | None = None,
    compact: bool = False,
) -> Dataset:
    """Read the whole posted history once and curate the examples of ``tasks``, split by date.

    ``examples``: earlier documents of the same partner and kind shown in each entry prompt
    (0 for none). ``max_chars`` is the prompt budget of :func:`build_prompt`, ``compact``
    its short form. Raises
    ``ValueError`` for an unknown task or a negative ``examples``.
    """
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(
            f"tasks must be among {', '.join(TASKS)}, got {', '.join(tasks) or 'none'}"
        )
    if examples < 0:
        raise ValueError(f"examples must not be negative, got {examples}")
    chart = source.chart()
    total = source.count_history() if hasattr(source, "count_history") else None
    dropped = Dropped()
    made: list[Example] = []
    earlier: dict[tuple[str, str], deque[Document]] = {}
    groups: dict[tuple[str, str, int], list[Structure]] = {}
    names: dict[str, str] = {}
    read = 0
    first: dt.date | None = None
    last: dt.date | None = None
    for document in source.history():
        read += 1
        first = first or document.date
        last = document.date
        if on_progress is not None and (read % 200 == 0 or read == total):
            on_progress("reading history", read, total)
        answer = render_scheme(document)
        _, violations = check_scheme(answer, chart, document)
        if violations:
            dropped.add("invalid_entry", document.id)
            for v in violations:
                dropped.violations[v.code] = dropped.violations.get(v.code, 0) + 1
            continue
        partner = document.partner.id if document.partner else ""
        if document.partner is not None:
            names[partner] = document.partner.name
        key = (partner, document.kind)
        if "entry" in tasks:
            shown = list(earlier.get(key, ()))[::-1]  # the latest first, as retrieval ranks
            made.append(entry_example(document, chart, shown, max_chars, compact))
            if examples:
                earlier.setdefault(key, deque(maxlen=examples)).append(document)
        if "scheme" in tasks:
            structure = entry_structure(document, chart)
            groups.setdefault((document.kind, partner, document.date.year), []).append(structure)
    if on_progress is not None:
        on_progress("reading history", read, read)
    for (kind, partner, year), structures in sorted(groups.items(), key=lambda kv: kv[0][2]):
        made.append(scheme_example(kind, partner, names.get(partner, partner), year, structures))
    train, test = split(deduplicate(made, dropped), holdout_from)
    return Dataset(
        train=train,
        test=test,
        dropped=dropped,
        holdout_from=holdout_from,
        tasks=tuple(t for t in TASKS if t in tasks),
        examples=examples,
        documents=read,
        first_date=first,
        last_date=last,
    )


def deduplicate(examples: Iterable[Example], dropped: Dropped) -> list[Example]:
    """The examples with the same messages kept once (the earliest), the rest counted."""
    seen: set[str] = set()
    kept = []
    for example in sorted(examples, key=lambda e: e.date):
        key = example.key
        if key in seen:
            dropped.add("duplicate", example.document)
            continue
        seen.add(key)
        kept.append(example)
    return kept


def split(
    examples: Iterable[Example], holdout_from: dt.date
) -> tuple[list[Example], list[Example]]:
    """``(train, test)``: examples dated before ``holdout_from``, and from it on."""
    train: list[Example] = []
    test: list[Example] = []
    for example in examples:
        (train if example.date < holdout_from else test).append(example)
    return train, test


def write_jsonl(path: Path, examples: Iterable[Example]) -> int:
    """Write ``examples`` as JSON Lines; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for example in examples:
            out.write(json.dumps(example.as_json(), ensure_ascii=False))
            out.write("\n")
            count += 1
    return count


def build_dataset(
    source: HistorySource,
    out_dir: Path,
    holdout_from: dt.date,
    tasks: Sequence[str] = TASKS,
    examples: int = DEFAULT_EXAMPLES,
    tokenizer: str | Path | None = None,
    max_tokens: int | None = None,
    on_progress: Progress | None = None,
    source_name: str = "",
    compact: bool = False,
) -> dict[str, Any]:
    """Curate, measure, cut to ``max_tokens``, and write train.jsonl, test.jsonl and the data card.

    ``tokenizer``: a transformers tokenizer directory to count tokens with (its chat
    template when it has one); without it lengths are characters. Returns the data card
    (also written as datacard.json and DATACARD.md in ``out_dir``).
    """
    from .datacard import LengthMeter, data_card, write_card

    started = time.monotonic()
    dataset = curate(
        source, holdout_from, tasks, examples, on_progress=on_progress, compact=compact
    )
    meter = LengthMeter.load(tokenizer)
    everything = dataset.train + dataset.test
    lengths = meter.measure(everything, on_progress)
    if max_tokens is not None:
        kept_train, kept_test = [], []
        for example in everything:
            if meter.over(lengths[id(example)][0], max_tokens):
                dataset.dropped.add("too_long", example.document)
            elif example.date < holdout_from:
                kept_train.append(example)
            else:
                kept_test.append(example)
        dataset.train, dataset.test = kept_train, kept_test
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "train.jsonl", dataset.train)
    write_jsonl(out_dir / "test.jsonl", dataset.test)
    card = data_card(
        dataset,
        lengths,
        meter,
        max_tokens=max_tokens,
        seconds=time.monotonic() - started,
        source=source_name,
    )
    write_card(card, out_dir)
    return card
