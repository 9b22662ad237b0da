"""The ``local`` backend: a transformers model directory (plus PEFT adapters), in process.

The same prompt as the ``llm`` backend, rendered with the tokenizer's chat template, greedy
decoding, and the same reading of the answer. Adapters are merged into the base weights in
the order given (LoRA deltas add up, so a domain and a numeric module apply together), which
also makes decoding as fast as the bare model. Meant for tests with the tiny model and for
small models on a CPU; a served 7B model belongs behind the ``llm`` backend.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..prompts import DEFAULT_MAX_CHARS, Prompt, prompt_for
from .answers import answer_confidence, read_answer
from .base import DraftRequest, Proposal
from .loading import load_causal_lm


class LocalBackend:
    """Posting schemes from a causal language model loaded with transformers."""

    name = "local"

    def __init__(
        self,
        model_dir: str | Path,
        adapters: Sequence[str | Path] = (),
        device: str = "cpu",
        max_new_tokens: int = 512,
        max_chars: int = DEFAULT_MAX_CHARS,
        compact: bool = False,
        max_examples: int | None = None,
        lookup_tokens: int | None = None,
        batch_size: int = 1,
        batch_wait: float = 0.1,
    ) -> None:
        """Load the model, its tokenizer and ``adapters`` (PEFT directories) onto ``device``.

        ``compact`` and ``max_examples`` shape the prompt (see :func:`prompt_for`): a model
        fine-tuned on compact prompts without examples is asked the same way.
        ``lookup_tokens``: prompt-lookup decoding, which drafts up to that many tokens by
        copying from the prompt and keeps those the model agrees with; the answer is that
        of plain greedy decoding (up to rounding), faster where a real model copies the
        document's ids, amounts and descriptions (1.3-1.6x measured on Gemma 3 270M with
        10), slower for a tiny model whose forward pass costs less than the bookkeeping
        (3x slower on the test suite's model); None (the default) turns it off. It applies
        to a request decoded alone (transformers drafts for one sequence only).

        ``batch_size``: requests that arrive together from several threads (``run_eval``
        with ``workers``) are decoded as one left-padded batch of at most this many; a
        decoding step reads the weights once for the whole batch, so on a CPU a batch of 8
        costs little more than one answer. The thread that decodes waits up to
        ``batch_wait`` seconds after the last arrival for the batch to fill. Each answer is
        that of decoding it alone up to float rounding (padding changes the shapes of the
        matrix products); one thread calling :meth:`propose` gets batches of one.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model_dir = Path(model_dir)
        self.adapters = tuple(Path(a) for a in adapters)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
        self.compact = compact
        self.max_examples = max_examples
        self.lookup_tokens = lookup_tokens
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        loaded = load_causal_lm(self.model_dir, self.adapters, device)
        self.tokenizer: Any = loaded.tokenizer
        self.model: Any = loaded.model
        self.model_name = loaded.name
        """What the proposals record as their model: the directory and adapter names."""
        self._queue: list[_Job] = []
        self._busy = False  # a thread is decoding (one generation at a time on one model)
        self._last_arrival = 0.0
        self._state = threading.Condition()  # guards _queue, _busy, _last_arrival
        self._encoding = threading.Lock()  # the fast tokenizer is not shared across threads
        self._special = set(self.tokenizer.all_special_ids)
        eos = self.model.generation_config.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        pad = self.tokenizer.pad_token_id
        self._pad = pad if pad is not None else min(self._eos, default=0)

    def propose(self, request: DraftRequest) -> Proposal:
        """Decode the model's answer for ``request.document`` greedily; never raises for it.

        Thread-safe: concurrent calls are decoded together, ``batch_size`` at a time.
        """
        prompt = prompt_for(request, self.max_chars, self.compact, self.max_examples)
        with self._encoding:
            ids = self.tokenizer.apply_chat_template(
                prompt.messages(), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"][0].tolist()
        job = _Job(prompt, ids)
        with self._state:
            self._queue.append(job)
            self._last_arrival = time.monotonic()
            self._state.notify_all()
            while self._busy and not job.done.is_set():
                self._state.wait()
            lead = not job.done.is_set()
            if lead:
                self._busy = True
        if lead:
            # This thread decodes, batch after batch, until its own request is answered.
            try:
                while not job.done.is_set():
                    self._run(self._take())
            finally:
                with self._state:
                    self._busy = False
                    self._state.notify_all()
        if job.error is not None:
            raise job.error
        assert job.proposal is not None
        return job.proposal

    def _take(self) -> list[_Job]:
        """The next batch from the queue, once it is full or no request came for a while."""
        with self._state:
            while len(self._queue) < self.batch_size:
                left = self._last_arrival + self.batch_wait - time.monotonic()
                if left <= 0:
                    break
                self._state.wait(left)
            batch = self._queue[: self.batch_size]
            del self._queue[: self.batch_size]
        return batch

    def _run(self, batch: list[_Job]) -> None:
        """Decode ``batch`` and hand each job its proposal (or the error, to every job)."""
        try:
            proposals: list[Proposal | None] = list(self._decode(batch))
            error: BaseException | None = None
        except BaseException as exc:
            proposals, error = [None] * len(batch), exc
        with self._state:
            for job, proposal in zip(batch, proposals, strict=True):
                job.proposal, job.error = proposal, error
                job.done.set()
            self._state.notify_all()
        if error is not None and not isinstance(error, Exception):
            raise error

    def _decode(self, batch: Sequence[_Job]) -> list[Proposal]:
        """Greedy answers for ``batch``: left-padded, each row stops at its own scheme end."""
        import torch

        rows = [job.ids for job in batch]
        width = max(len(ids) for ids in rows)
        input_ids = torch.tensor(
            [[self._pad] * (width - len(ids)) + ids for ids in rows], device=self.device
        )
        mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=self.device
        )
        stop = _scheme_end(self.tokenizer, width, len(rows))
        lookup = bool(self.lookup_tokens) and len(rows) == 1
        chosen = _chosen_logprob()
        options: dict[str, Any] = (
            {
                "prompt_lookup_num_tokens": self.lookup_tokens,
                "output_scores": True,
                "return_dict_in_generate": True,
            }
            if lookup
            else {"logits_processor": [chosen]}
        )
        started = time.monotonic()
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=self._pad,
                stopping_criteria=[stop],
                **options,
            )
        seconds = time.monotonic() - started
        sequences = output.sequences if lookup else output
        proposals = []
        for row, job in enumerate(batch):
            generated = sequences[row, width:].tolist()
            # A finished row is padded while the others go on: cut it where it stopped.
            end = len(generated) if stop.stopped[row] is None else stop.stopped[row]
            end = next((n + 1 for n, t in enumerate(generated[:end]) if t in self._eos), end)
            generated = generated[:end]
            if lookup:
                logprobs = [
                    torch.log_softmax(scores[0].float(), dim=-1)[token_id].item()
                    for token_id, scores in zip(generated, output.scores, strict=False)
                ]
            else:
                logprobs = [step[row].item() for step in chosen.steps[: len(generated)]]
            proposals.append(
                self._proposal(
                    job,
                    generated,
                    logprobs,
                    stop.scanners[row].done,
                    {"seconds": round(seconds, 3), "batch": len(batch)},
                )
            )
        return proposals

    def _proposal(
        self,
        job: _Job,
        generated: list[int],
        logprobs: list[float],
        scheme_ended: bool,
        timing: dict[str, Any],
    ) -> Proposal:
        prompt = job.prompt
        tokens: list[tuple[str, float]] = [
            (self.tokenizer.decode([token_id]), logprob)
            for token_id, logprob in zip(generated, logprobs, strict=True)
            if token_id not in self._special
        ]
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        scheme, found = read_answer(text)
        confidence = answer_confidence(tokens, text) if scheme is not None else 0.0
        finished = (bool(generated) and generated[-1] in self._special) or scheme_ended
        return Proposal(
            backend=self.name,
            scheme=scheme,
            confidence=confidence,
            evidence=prompt.examples,
            raw=text,
            parse_violations=found,
            model=self.model_name,
            note=(
                f"proposed by the local model from {len(prompt.examples)} similar posted "
                "document(s)"
                if scheme is not None
                else "the local model's answer could not be read as a posting scheme"
            ),
            extra={
                **timing,
                "prompt_tokens": len(job.ids),
                "completion_tokens": len(generated),
                "finish_reason": "stop" if finished else "length",
                "prompt_chars": prompt.chars,
            },
        )


class _Job:
    """One :meth:`LocalBackend.propose` call waiting for its batch to be decoded."""

    __slots__ = ("done", "error", "ids", "prompt", "proposal")

    def __init__(self, prompt: Prompt, ids: list[int]) -> None:
        self.prompt = prompt
        self.ids = ids
        self.done = threading.Event()
        self.proposal: Proposal | None = None
        self.error: BaseException | None = None


class SchemeEnd:
    """Tells when the generated text holds a complete JSON object with ``"lines"``.

    A model that does not stop after its answer (a base model that goes on writing) would
    spend the rest of ``max_new_tokens`` on text nobody reads; the answer reader takes the
    first such object anyway. Braces inside JSON strings do not count, and a balanced
    object that is not valid JSON (a model echoing the prompt's template) does not stop it.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.current: list[str] = []
        self.done = False

    def feed(self, piece: str) -> bool:
        """Read the next piece of generated text; True once the scheme object is complete."""
        for char in piece:
            if self.done:
                break
            if self.depth:
                self.current.append(char)
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"' and self.depth:
                self.in_string = True
            elif char == "{":
                if not self.depth:
                    self.current = [char]
                self.depth += 1
            elif char == "}" and self.depth:
                self.depth -= 1
                if not self.depth:
                    self.done = _is_scheme_object("".join(self.current))
        return self.done


def _is_scheme_object(text: str) -> bool:
    if '"lines"' not in text:
        return False
    try:
        return isinstance(json.loads(text, strict=False), dict)
    except ValueError:
        return False


def _scheme_end(tokenizer: Any, prompt_tokens: int, rows: int = 1) -> Any:
    """A transformers stopping criterion around one :class:`SchemeEnd` per sequence.

    ``stopped[i]``: how many tokens row ``i`` had generated when its scheme ended.
    """
    import torch
    from transformers import StoppingCriteria

    class StopAtSchemeEnd(StoppingCriteria):
        def __init__(self) -> None:
            self.scanners = [SchemeEnd() for _ in range(rows)]
            self.stopped: list[int | None] = [None] * rows
            self.seen = prompt_tokens

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            new = input_ids[:, self.seen :].tolist()
            self.seen = int(input_ids.shape[1])
            for row, (scanner, tokens) in enumerate(zip(self.scanners, new, strict=True)):
                if not scanner.done and scanner.feed(
                    tokenizer.decode(tokens, skip_special_tokens=True)
                ):
                    self.stopped[row] = self.seen - prompt_tokens
            done = [scanner.done for scanner in self.scanners]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopAtSchemeEnd()


def _chosen_logprob() -> Any:
    """A logits processor that keeps, per step, each row's log-probability of its argmax.

    Greedy decoding picks the argmax of the scores it is handed, so this is the
    log-probability of the token each row generated (rows already finished: unused), the
    same figure as ``log_softmax(scores)[token]`` without keeping every step's scores
    (a batch of 16 on a 262k vocabulary would hold 16 MB a step).
    """
    import torch
    from transformers import LogitsProcessor

    class ChosenLogprob(LogitsProcessor):
        def __init__(self) -> None:
            self.steps: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.steps.append(torch.log_softmax(scores.float(), dim=-1).amax(dim=-1).cpu())
            return scores

    return ChosenLogprob()
