"""Loading a transformers model directory plus PEFT adapters, in process.

Shared by the ``local`` backend (which decodes answers) and the audit's language-model
surprise (:mod:`ledgerpilot.audit.lm_surprise`, which scores posted answers), so that both
see the same weights: float32, adapters merged into the base weights in the order given
(LoRA deltas add up, so a domain and a numeric module apply together; merged, the model
runs as fast as the bare one). torch, transformers and peft are imported here, on call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadedModel:
    """A causal language model in evaluation mode, its tokenizer and its name."""

    model: Any
    tokenizer: Any
    name: str
    """The directory and adapter names, ``"base+adapter"``: what proposals record as model."""


def load_causal_lm(
    model_dir: str | Path, adapters: Sequence[str | Path] = (), device: str = "cpu"
) -> LoadedModel:
    """Load ``model_dir``'s model and tokenizer, merge ``adapters`` (PEFT directories) into
    it in order, and move it to ``device``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    paths = tuple(Path(a) for a in adapters)
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if paths:
        from peft import PeftModel

        for adapter in paths:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return LoadedModel(
        model=model.to(device).eval(),
        tokenizer=tokenizer,
        name="+".join([model_dir.name, *(a.name for a in paths)]),
    )
