"""Language-model surprise: how unlikely the posting model finds each entry's posted scheme.

The frequency model of :mod:`.surprise` counts account combinations per partner and kind;
a language model fine-tuned on the company's postings (the ``local`` backend's model) also
reads the document: its text, its amounts, the way the latest earlier document of the same
partner and kind was posted. For each audited entry the model is shown exactly the prompt
the ``local`` backend renders for the document (:func:`~ledgerpilot.agent.prompts.prompt_for`,
with the latest earlier posted document of the same partner and kind as its example, as
``dataset build`` trains it), and the posted entry, rendered as the answer the model was
fine-tuned to produce (:func:`~ledgerpilot.agent.prompts.render_scheme`), is teacher-forced
after it: one forward pass per batch of entries, no generation. The surprisal of each answer
token is ``-log2 p``.

What is scored. Every answer token is fed, but only the posting's structure counts towards
the mean bits per token: the account codes, the amounts and their sides, the kind and the
JSON around them; the free text (the explanation, the lines' descriptions) and the document
id are left out (how a clerk worded a description, or an id the model has never seen, says
nothing about whether the posting is right). The entry is judged by the bits of its **most
unlikely account code** (the sum over the code's tokens); the finding names its line. Not by
the mean bits per token (reported beside it): one wrong account is a few tokens among a
hundred or more, and the mean hides it. Not by the total: it grows with the number of lines.
Not by the lines' amounts: they are copying and arithmetic, which the ledger checks test
exactly (``vat_arithmetic``, ``unbalanced``), and a model not fine-tuned spends many bits on
right ones. Measured with Gemma 3 270M, not fine-tuned, on six supplier invoices of the
synthetic company (compact prompt, one earlier invoice of the partner as example): the most
unlikely account of the posted invoices cost 0.2-0.6 bits in five of them (18.1 in a
five-line invoice), the same invoices with the expense account swapped for one the partner
never used 9.2-11.6 bits (15.9: the five-line one's own line again), while the mean rose
only from 0.26-0.48 to 0.39-0.60 bits per token, inside the posted invoices' own spread.
An entry reversed (every line on the other side) is left to the frequency model, whose
schemes are (account, side) pairs: its account codes cost what the posted ones cost.

When it is reported. Relative to the period, not against a fixed number (a model's bits
depend on its size and training): an entry is reported when its robust z-score,
``(x - median) / (1.4826 * MAD)`` over the period's scored entries, is at least
:attr:`LMSurpriseSettings.z` (3.5: the modified z-score outlier rule of Iglewicz and
Hoaglin, 1993), the spread taken as at least :attr:`LMSurpriseSettings.min_spread` bits so
that a period of near-identical entries (a model that has learnt them all) does not turn
rounding into findings.

Cost. One forward pass over prompt and answer per entry, no generation: on the synthetic
company with one example, about 1,800 tokens (full prompt) or 1,100 (compact) with Gemma 3
270M's tokenizer; seconds of CPU per entry on two cores, a small fraction of that on a GPU
(``benchmarks/bench_lm_surprise.py`` measures it). An audit scores at most
:attr:`LMSurpriseSettings.limit` entries: all of them when the period is that small;
otherwise the first half of that number from the other checks' ranking (where an auditor
looks first, a second opinion) and the rest a uniform random sample of the period (seeded:
the same audit scores the same entries), which alone forms the distribution the entries are
judged against: the ranking's top is not a sample of the period.

torch and transformers are imported only when a :class:`SchemeScorer` is made.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..connectors import ReferenceAIS
from ..ledger import ChartOfAccounts, Document
from .checks import describe, entry_amount
from .model import AuditResult, AuditSettings, Finding, Reason
from .reading import journal_of
from .score import finding, rank

if TYPE_CHECKING:
    from ..config import Settings

CHECK = "lm_surprise"
DESCRIPTION = (
    "posted schemes the local posting model finds unlikely for their document "
    "(bits of its most unlikely account, robust z-score over the period)"
)

LN2 = math.log(2.0)
MAD_SCALE = 1.4826
"""Makes the median absolute deviation estimate a normal distribution's standard deviation."""

HEAD_CHUNK = 256
"""Positions put through the output layer at once (Gemma 3: 262k logits each, 1 MiB)."""

_FIELD = re.compile(
    r'"(document|explanation|description|account|debit|credit)":"((?:[^"\\]|\\.)*)"'
)
"""A string field of the compact answer JSON (quotes inside values are escaped)."""
_FREE_TEXT = frozenset({"document", "explanation", "description"})

Progress = Callable[[int, int], None]
"""Called with (entries scored, entries to score) after each batch."""


@dataclass(frozen=True)
class LMSurpriseSettings:
    """How many entries to score and when one is reported."""

    limit: int = 100
    """Entries scored at most (see the module's docstring for which); 0 turns the check off."""
    z: float = 3.5
    """Robust z-score from which an entry is reported."""
    min_spread: float = 1.0
    """Bits: the least spread (scaled MAD) the z-score divides by; with :attr:`z`, an entry
    is reported only when its most unlikely account costs at least 3.5 bits (odds of 1 in
    11) more than the median entry's."""
    max_factor: float = 1.5
    """A reported entry weighs ``weight("lm_surprise")`` times its z over :attr:`z`, up to this."""
    min_entries: int = 3
    """Fewer scored entries in the distribution than this: nothing to compare with, no finding."""
    examples: int = 1
    """Earlier documents of the same partner and kind shown in the prompt (0: none)."""
    seed: int = 0
    """Of the random sample."""


@dataclass(frozen=True)
class LineBits:
    """What one line of a posted answer cost the model."""

    account: str
    debit: str
    credit: str
    """The amounts as the answer writes them (``"0.00"`` on the side not used)."""
    bits: float
    """Over the tokens of the account code."""

    def __str__(self) -> str:
        """``"account 400000 debit 1234.00"``: the line as a bookkeeper reads it."""
        debit = self.debit.strip("0.") != ""
        side, amount = ("debit", self.debit) if debit else ("credit", self.credit)
        return f"account {self.account} {side} {amount}"


@dataclass(frozen=True)
class Surprisal:
    """The model's surprisal of one posted answer."""

    document: str
    bits: float
    """Over the scored tokens (the posting's structure; see the module's docstring)."""
    tokens: int
    """Scored tokens."""
    lines: tuple[LineBits, ...]
    """Each line's account code, amounts and bits, in the answer's order."""
    answer_tokens: int
    """All the answer's tokens (free text included)."""
    input_tokens: int
    """Prompt and answer: what the forward pass read."""

    @property
    def per_token(self) -> float:
        """Mean bits per scored token."""
        return self.bits / self.tokens if self.tokens else 0.0

    @property
    def worst_line(self) -> LineBits | None:
        """The line whose account code cost the most bits."""
        return max(self.lines, key=lambda line: line.bits, default=None)

    @property
    def line_bits(self) -> float:
        """The bits of the most unlikely account code: what the entry is judged by."""
        worst = self.worst_line
        return worst.bits if worst is not None else 0.0


@dataclass(frozen=True)
class _Encoded:
    document: str
    ids: list[int]
    scored: list[int]
    """Positions (in ``ids``) of the scored answer tokens."""
    line_of: dict[int, int]
    """Scored position (of an account code) -> index into ``lines``."""
    lines: tuple[tuple[str, str, str], ...]
    """Each line's account, debit and credit as the answer writes them."""
    answer_tokens: int


class SchemeScorer:
    """A causal language model (plus adapters) that scores posted schemes, batch by batch."""

    def __init__(
        self,
        model_dir: str | Path,
        adapters: Sequence[str | Path] = (),
        *,
        device: str | None = None,
        compact: bool = False,
        max_chars: int | None = None,
        batch_size: int = 8,
        batch_tokens: int = 16_384,
    ) -> None:
        """Load the model as the ``local`` backend does; ``compact`` and ``max_chars`` shape
        the prompt as they shape the backend's. ``device``: CUDA when available by default.
        A batch holds at most ``batch_size`` entries and ``batch_tokens`` padded tokens."""
        import torch

        from ..agent.backends.loading import load_causal_lm
        from ..agent.prompts import DEFAULT_MAX_CHARS

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        loaded = load_causal_lm(model_dir, adapters, device)
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = loaded.name
        self.device = device
        self.compact = compact
        self.max_chars = DEFAULT_MAX_CHARS if max_chars is None else max_chars
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{model_dir}: the audit's surprise needs a fast tokenizer")
        pad = self.tokenizer.pad_token_id
        self._pad = 0 if pad is None else int(pad)
        self._decoder = self.model.get_decoder()
        self._head = self.model.get_output_embeddings()
        self._softcap = getattr(self.model.config, "final_logit_softcapping", None)
        self._check_head()

    def _logits(self, hidden: Any) -> Any:
        """The output layer on ``hidden`` states, as the model's own forward applies it."""
        import torch

        logits = self._head(hidden).float()
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits

    def _check_head(self) -> None:
        """Refuse a model whose logits are not its output layer on the decoder's states
        (scoring applies the layer only where an answer token is predicted)."""
        import torch

        ids = torch.tensor([self.tokenizer('{"lines":[]}')["input_ids"]], device=self.device)
        with torch.inference_mode():
            whole = self.model(input_ids=ids).logits.float()
            mine = self._logits(self._decoder(input_ids=ids).last_hidden_state)
        if not torch.allclose(whole, mine, rtol=1e-3, atol=1e-3):
            raise ValueError(
                f"{self.name}: its output cannot be computed from its decoder's states; "
                "the audit's surprise supports decoder-only models (Qwen2, Llama, Gemma 3)"
            )

    def encode(
        self, document: Document, chart: ChartOfAccounts, examples: Sequence[Document] = ()
    ) -> _Encoded:
        """The prompt the ``local`` backend renders for ``document`` followed by its posted
        answer, as token ids, with the answer tokens to score."""
        from ..agent.backends.base import DraftRequest
        from ..agent.prompts import prompt_for, render_scheme

        request = DraftRequest(document, chart, tuple(examples))
        prompt = prompt_for(request, self.max_chars, self.compact)
        answer = render_scheme(document)
        question = self.tokenizer.apply_chat_template(
            prompt.messages(), add_generation_prompt=True, tokenize=False
        )
        whole = self.tokenizer.apply_chat_template(prompt.messages(answer), tokenize=False)
        start = whole.find(answer, len(question)) if whole.startswith(question) else -1
        if start < 0:
            raise ValueError(f"{self.name}: the chat template does not write the answer as given")
        end = start + len(answer)
        free: list[tuple[int, int]] = []
        posting: list[tuple[int, int, int]] = []  # (start, end, line) of each account code
        lines: list[list[str]] = []
        for match in _FIELD.finditer(answer):
            span = (start + match.start(2), start + match.end(2))
            field = match.group(1)
            if field in _FREE_TEXT:
                free.append(span)
                continue
            if field == "account":
                lines.append([match.group(2), "", ""])
                posting.append((*span, len(lines) - 1))
            elif lines:  # an amount: shown in the finding, scored with the structure
                lines[-1][1 if field == "debit" else 2] = match.group(2)
        # The text up to the answer's end, tokenized as the chat template's ids are (its
        # special tokens spelled out): the model reads what it was trained on.
        encoded = self.tokenizer(whole[:end], add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        scored: list[int] = []
        line_of: dict[int, int] = {}
        answer_tokens = 0
        for position, (s, e) in enumerate(encoded["offset_mapping"]):
            if e <= start or s >= end or position == 0:
                continue
            answer_tokens += 1
            if any(s < fe and e > fs for fs, fe in free):
                continue
            scored.append(position)
            for ps, pe, line in posting:
                if s < pe and e > ps:
                    line_of[position] = line
                    break
        return _Encoded(
            document.id,
            ids,
            scored,
            line_of,
            tuple((a, d, c) for a, d, c in lines),
            answer_tokens,
        )

    def score(
        self,
        items: Sequence[tuple[Document, Sequence[Document]]],
        chart: ChartOfAccounts,
        on_progress: Progress | None = None,
    ) -> list[Surprisal]:
        """The surprisal of each ``(posted document, its prompt's examples)``, in order."""
        encoded = [self.encode(document, chart, examples) for document, examples in items]
        order = sorted(range(len(encoded)), key=lambda n: len(encoded[n].ids))
        found: dict[int, Surprisal] = {}
        batch: list[int] = []
        for n in order:
            width = len(encoded[n].ids)  # the longest so far: sorted by length
            if batch and (
                len(batch) >= self.batch_size or (len(batch) + 1) * width > self.batch_tokens
            ):
                found.update(
                    zip(batch, self._score_batch([encoded[b] for b in batch]), strict=True)
                )
                batch = []
                if on_progress is not None:
                    on_progress(len(found), len(encoded))
            batch.append(n)
        if batch:
            found.update(zip(batch, self._score_batch([encoded[b] for b in batch]), strict=True))
            if on_progress is not None:
                on_progress(len(found), len(encoded))
        return [found[n] for n in range(len(encoded))]

    def _score_batch(self, batch: Sequence[_Encoded]) -> list[Surprisal]:
        """One right-padded forward pass; the output layer only where a scored token is
        predicted (a 262k-token vocabulary over every position would not fit)."""
        import torch

        def longs(values: list[Any]) -> Any:
            return torch.tensor(values, dtype=torch.long, device=self.device)

        width = max(len(e.ids) for e in batch)
        ids = longs([e.ids + [self._pad] * (width - len(e.ids)) for e in batch])
        mask = longs([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in batch])
        rows = longs([r for r, e in enumerate(batch) for _ in e.scored])
        before = longs([p - 1 for e in batch for p in e.scored])
        targets = longs([e.ids[p] for e in batch for p in e.scored])
        with torch.inference_mode():
            hidden = self._decoder(input_ids=ids, attention_mask=mask).last_hidden_state
            states = hidden[rows, before]
            bits = []
            for at in range(0, len(targets), HEAD_CHUNK):
                logp = torch.log_softmax(self._logits(states[at : at + HEAD_CHUNK]), dim=-1)
                picked = logp.gather(1, targets[at : at + HEAD_CHUNK, None])[:, 0]
                bits.append(-picked / LN2)
            flat = torch.cat(bits).tolist() if bits else []
        out = []
        at = 0
        for e in batch:
            mine = flat[at : at + len(e.scored)]
            at += len(e.scored)
            per_line = [0.0] * len(e.lines)
            for position, b in zip(e.scored, mine, strict=True):
                if position in e.line_of:
                    per_line[e.line_of[position]] += b
            out.append(
                Surprisal(
                    document=e.document,
                    bits=float(sum(mine)),
                    tokens=len(e.scored),
                    lines=tuple(
                        LineBits(a, d, c, b) for (a, d, c), b in zip(e.lines, per_line, strict=True)
                    ),
                    answer_tokens=e.answer_tokens,
                    input_tokens=len(e.ids),
                )
            )
        return out


# ------------------------------------------------------------ the configured model


@dataclass(frozen=True)
class ScorerSetup:
    """Which model scores the entries, with which prompt, and how many entries."""

    model_dir: Path
    adapters: tuple[Path, ...]
    compact: bool
    """The local backend's compact prompt (``LEDGERPILOT_LOCAL_PROMPT=compact``)."""
    check: LMSurpriseSettings

    def load(self) -> SchemeScorer:
        """Load the model (on the GPU when there is one). Raises :class:`ImportError`
        without torch and transformers, :class:`FileNotFoundError` when the model's or an
        adapter's directory does not exist, and whatever transformers or peft raise for
        files they cannot read."""
        if not self.model_dir.is_dir():
            raise FileNotFoundError("the directory does not exist")
        for adapter in self.adapters:
            if not adapter.is_dir():
                raise FileNotFoundError(f"the adapter directory {adapter} does not exist")
        return SchemeScorer(self.model_dir, self.adapters, compact=self.compact)


def configured_scorer(
    settings: Settings,
    model_dir: Path | None = None,
    adapters: Sequence[Path] | None = None,
    limit: int | None = None,
) -> ScorerSetup | None:
    """The check's set-up, shared by ``ledgerpilot audit`` and the nightly audit:
    ``model_dir`` (with ``adapters``) when given, else the local backend's model
    (``local_model_dir`` with ``local_adapters``); ``limit`` entries when given, else
    ``audit_lm_limit``; the prompt shaped as the local backend's settings say
    (``local_prompt``; ``local_examples`` examples, 1 when unset, as ``dataset build``
    trains). ``None`` when no model is given or configured, or the limit is 0."""
    if model_dir is None and settings.local_model_dir:
        model_dir, adapters = settings.local_model_dir, adapters or settings.local_adapters
    limit = settings.audit_lm_limit if limit is None else limit
    if model_dir is None or limit == 0:
        return None
    defaults = LMSurpriseSettings()
    examples = settings.local_examples
    return ScorerSetup(
        model_dir=Path(model_dir),
        adapters=tuple(Path(a) for a in adapters or ()),
        compact=settings.local_prompt == "compact",
        check=LMSurpriseSettings(
            limit=limit, examples=defaults.examples if examples is None else examples
        ),
    )


# ------------------------------------------------------------ choosing the entries


@dataclass(frozen=True)
class Chosen:
    """The entries to score, each with the examples its prompt shows."""

    items: list[tuple[Document, tuple[Document, ...]]]
    reference: frozenset[str]
    """Ids of the documents whose scores form the period's distribution."""
    period: int
    """Posted entries in the period."""


def choose(
    documents: Iterable[Document],
    since: Any,
    top: Sequence[str],
    settings: LMSurpriseSettings,
) -> Chosen:
    """Stream ``documents`` (history then period, in date order) and keep the entries to
    score: every entry of the period when it holds at most ``settings.limit``; otherwise the
    ``top`` documents (ids, best first; at most half the limit) and a uniform random sample
    of the period (reservoir sampling) for the rest. Each keeps the latest
    ``settings.examples`` earlier documents of its partner and kind, latest first."""
    limit = settings.limit
    wanted = set(top[: limit // 2])
    rng = random.Random(settings.seed)
    latest: dict[tuple[str, str], deque[Document]] = {}
    reservoir: list[tuple[Document, tuple[Document, ...]]] = []
    tops: dict[str, tuple[Document, tuple[Document, ...]]] = {}
    period = 0
    for document in documents:
        if document.entry is None:
            continue
        key = (document.partner.id if document.partner else "", document.kind)
        earlier = latest.get(key)
        if since is None or document.date >= since:
            period += 1
            item = (document, tuple(reversed(earlier)) if earlier else ())
            if document.id in wanted:
                tops[document.id] = item
            if len(reservoir) < limit:
                reservoir.append(item)
            else:
                slot = rng.randrange(period)
                if slot < limit:
                    reservoir[slot] = item
        if settings.examples:
            if earlier is None:
                earlier = latest[key] = deque(maxlen=settings.examples)
            earlier.append(document)
    if period <= limit:
        return Chosen(reservoir, frozenset(d.id for d, _ in reservoir), period)
    ranked = [tops[i] for i in top[: limit // 2] if i in tops]
    taken = {d.id for d, _ in ranked}
    rest = [item for item in reservoir if item[0].id not in taken]
    sample = rng.sample(rest, min(len(rest), limit - len(ranked)))
    return Chosen(ranked + sample, frozenset(d.id for d, _ in sample), period)


# ------------------------------------------------------------ judging


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, interpolated linearly (NumPy's default)."""
    if not ordered:
        raise ValueError("no values")
    at = q * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


@dataclass(frozen=True)
class Distribution:
    """The period's entries' figures (bits of their most unlikely account), from the reference."""

    count: int
    median: float
    p99: float
    spread: float
    """``1.4826 * MAD``, at least ``min_spread``."""

    @classmethod
    def of(cls, values: Iterable[float], min_spread: float) -> Distribution:
        ordered = sorted(values)
        median = percentile(ordered, 0.5)
        mad = percentile(sorted(abs(v - median) for v in ordered), 0.5)
        return cls(
            len(ordered), median, percentile(ordered, 0.99), max(MAD_SCALE * mad, min_spread)
        )

    def z(self, value: float) -> float:
        return (value - self.median) / self.spread


def judge(
    scores: Sequence[Surprisal],
    reference: frozenset[str],
    settings: LMSurpriseSettings,
    audit_settings: AuditSettings,
) -> tuple[dict[str, Reason], Distribution | None]:
    """The ``lm_surprise`` reason of each outlying entry (by document id), and the
    distribution it was judged against (``None``: too few reference entries)."""
    values = [s.line_bits for s in scores if s.document in reference]
    if len(values) < max(settings.min_entries, 1):
        return {}, None
    dist = Distribution.of(values, settings.min_spread)
    found = {}
    for s in scores:
        z = dist.z(s.line_bits)
        if z < settings.z:
            continue
        found[s.document] = Reason(
            CHECK,
            f"the posting model found this line very unlikely: {s.worst_line}, "
            f"{s.line_bits:.1f} bits ({odds(s.line_bits)}); the most unlikely account of the "
            f"period's entries costs {dist.median:.1f} bits at the median, {dist.p99:.1f} at "
            f"the 99th percentile ({dist.count} entries scored); {s.per_token:.2f} bits per "
            "token over the whole scheme",
            audit_settings.weight(CHECK) * min(z / settings.z, settings.max_factor),
        )
    return found, dist


def odds(bits: float) -> str:
    """``"odds of 1 in 1,783"``: what ``bits`` of surprisal mean as a chance."""
    if bits > 20:
        return "odds below 1 in a million"
    return f"odds of 1 in {2**bits:,.0f}"


def merge(
    result: AuditResult,
    reasons: dict[str, Reason],
    documents: dict[str, Document],
    audit_settings: AuditSettings,
) -> list[Finding]:
    """The findings with the new reasons added (entries without a finding get one), ranked."""
    findings = []
    for f in result.findings:
        extra = reasons.get(f.document)
        if extra is not None:
            f = finding(
                entry=f.entry,
                document=f.document,
                date=f.date,
                reasons=(*f.reasons, extra),
                partner=f.partner,
                kind=f.kind,
                amount=f.amount,
                posted_by=f.posted_by,
                description=f.description,
            )
        findings.append(f)
    known = {f.document for f in result.findings}
    for document_id, reason in reasons.items():
        if document_id in known:
            continue
        document = documents[document_id]
        entry = document.entry
        assert entry is not None
        f = finding(
            entry=entry.id or document.id,
            document=document.id,
            date=entry.date,
            reasons=(reason,),
            partner=document.partner.id if document.partner else None,
            kind=document.kind,
            amount=entry_amount(entry),
            posted_by=entry.posted_by,
            description=describe(document),
        )
        if f.score > audit_settings.min_score:
            findings.append(f)
    return rank(findings)


def add_lm_surprise(
    result: AuditResult,
    ais: Any,
    scorer: SchemeScorer,
    *,
    since: Any = None,
    until: Any = None,
    settings: LMSurpriseSettings | None = None,
    audit_settings: AuditSettings | None = None,
    on_progress: Progress | None = None,
) -> AuditResult:
    """``result`` (an audit of ``ais`` from ``since`` to ``until``, both inclusive) with the
    ``lm_surprise`` check run on the chosen entries: their reasons join the findings, the
    ranking is redone, and ``checks["lm_surprise"]`` summarises the run."""
    import datetime as dt

    s = settings or LMSurpriseSettings()
    audit_s = audit_settings or AuditSettings()
    started = time.monotonic()
    end = until + dt.timedelta(days=1) if until is not None else None
    start = None
    if since is not None and audit_s.history_days is not None:
        start = since - dt.timedelta(days=audit_s.history_days)
    chart = ais.chart()
    top = [f.document for f in result.findings]
    chosen = choose(journal_of(ais, start, end, since), since, top, s)
    items = [(d, _with_lines(ais, examples, since)) for d, examples in chosen.items]
    scores = scorer.score(items, chart, on_progress) if items else []
    reasons, dist = judge(scores, chosen.reference, s, audit_s)
    documents = {d.id: d for d, _ in items}
    summary: dict[str, Any] = {
        "fired": len(reasons),
        "description": DESCRIPTION,
        "weight": audit_s.weight(CHECK),
        "model": scorer.name,
        "entries_in_period": chosen.period,
        "scored": len(scores),
        "reference": len(chosen.reference),
        "seconds": round(time.monotonic() - started, 1),
        "tokens": sum(x.input_tokens for x in scores),
    }
    if scores:
        summary["median_bits_per_token"] = round(
            percentile(sorted(x.per_token for x in scores), 0.5), 3
        )
    if dist is not None:
        summary.update(
            median=round(dist.median, 3),
            p99=round(dist.p99, 3),
            threshold=round(dist.median + s.z * dist.spread, 3),
        )
    return replace(
        result,
        findings=merge(result, reasons, documents, audit_s),
        checks={**result.checks, CHECK: summary},
    )


def _with_lines(ais: Any, examples: tuple[Document, ...], since: Any) -> tuple[Document, ...]:
    """The examples with their document lines: a reference AIS's audit reading leaves them
    out before ``since`` (:func:`~.reading.read_journal`), so those are fetched by id."""
    if since is None or not isinstance(ais, ReferenceAIS):
        return examples
    out = []
    for example in examples:
        if example.date < since:
            example = ais.get_document(example.id) or example
        out.append(example)
    return tuple(out)
