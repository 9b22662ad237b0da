"""The ``local`` backend: a transformers model directory (plus PEFT adapters), in process.

The same prompt as the ``llm`` backend, rendered with the tokenizer's chat template, greedy
decoding, and the same reading of the answer. Adapters are merged into the base weights in
the order given (LoRA deltas add up, so a domain and a numeric module apply together), which
also makes decoding as fast as the bare model. Meant for tests with the tiny model and for
small models on a CPU; a served 7B model belongs behind the ``llm`` backend.
"""

from __future__ import annotations

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
    ) -> None:
        """Load the model, its tokenizer and ``adapters`` (PEFT directories) onto ``device``."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.adapters = tuple(Path(a) for a in adapters)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
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

        prompt = prompt_for(request, self.max_chars)
        inputs = self.tokenizer.apply_chat_template(
            prompt.messages(), add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        started = time.monotonic()
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=self.tokenizer.pad_token_id,
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
        finished = bool(generated) and generated[-1] in special
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
