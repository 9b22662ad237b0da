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

from ..prompts import DEFAULT_MAX_CHARS, prompt_for
from .answers import answer_confidence, read_answer
from .base import DraftRequest, Proposal


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
    ) -> None:
        """Load the model, its tokenizer and ``adapters`` (PEFT directories) onto ``device``.

        ``compact`` and ``max_examples`` shape the prompt (see :func:`prompt_for`): a model
        fine-tuned on compact prompts without examples is asked the same way.
        ``lookup_tokens``: prompt-lookup decoding, which drafts up to that many tokens by
        copying from the prompt and keeps those the model agrees with; the answer is that
        of plain greedy decoding (up to rounding), faster where a real model copies the
        document's ids, amounts and descriptions (1.3-1.6x measured on Gemma 3 270M with
        10), slower for a tiny model whose forward pass costs less than the bookkeeping
        (3x slower on the test suite's model); None (the default) turns it off.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.adapters = tuple(Path(a) for a in adapters)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
        self.compact = compact
        self.max_examples = max_examples
        self.lookup_tokens = lookup_tokens
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.model_dir)
        model: Any = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32)
        if self.adapters:
            from peft import PeftModel

            for adapter in self.adapters:
                model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        self.model = model.to(device).eval()
        self.model_name = "+".join([self.model_dir.name, *(a.name for a in self.adapters)])
        """What the proposals record as their model: the directory and adapter names."""
        self._lock = threading.Lock()  # one generation at a time on one model

    def propose(self, request: DraftRequest) -> Proposal:
        """Decode the model's answer for ``request.document`` greedily; never raises for it."""
        import torch

        prompt = prompt_for(request, self.max_chars, self.compact, self.max_examples)
        inputs = self.tokenizer.apply_chat_template(
            prompt.messages(), add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        stop = _scheme_end(self.tokenizer, prompt_tokens)
        lookup = {"prompt_lookup_num_tokens": self.lookup_tokens} if self.lookup_tokens else {}
        started = time.monotonic()
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=[stop],
                **lookup,
            )
        seconds = time.monotonic() - started
        generated = output.sequences[0, prompt_tokens:].tolist()
        special = set(self.tokenizer.all_special_ids)
        tokens: list[tuple[str, float]] = []
        for token_id, scores in zip(generated, output.scores, strict=False):
            if token_id in special:
                continue
            logprob = torch.log_softmax(scores[0].float(), dim=-1)[token_id].item()
            tokens.append((self.tokenizer.decode([token_id]), logprob))
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        scheme, found = read_answer(text)
        confidence = answer_confidence(tokens, text) if scheme is not None else 0.0
        finished = (bool(generated) and generated[-1] in special) or stop.scanner.done
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
                "seconds": round(seconds, 3),
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(generated),
                "finish_reason": "stop" if finished else "length",
                "prompt_chars": prompt.chars,
            },
        )


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


def _scheme_end(tokenizer: Any, prompt_tokens: int) -> Any:
    """A transformers stopping criterion around :class:`SchemeEnd` (one sequence)."""
    import torch
    from transformers import StoppingCriteria

    class StopAtSchemeEnd(StoppingCriteria):
        def __init__(self) -> None:
            self.scanner = SchemeEnd()
            self.seen = prompt_tokens

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            new = input_ids[0, self.seen :].tolist()
            self.seen = int(input_ids.shape[1])
            done = self.scanner.feed(tokenizer.decode(new, skip_special_tokens=True))
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    return StopAtSchemeEnd()
