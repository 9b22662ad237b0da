"""A tiny Qwen2-architecture language model, built here with nothing downloaded.

The tests of the model backends and of training need a real transformers model directory:
``build_tiny_model`` makes one with random weights (64 hidden units, 2 layers) and a
byte-level BPE tokenizer trained in seconds on a corpus of ledgerpilot prompts and posting
schemes (:func:`synthetic_corpus`), with Qwen's pre-tokenization (digits one by one) and a
ChatML chat template. ``AutoModelForCausalLM.from_pretrained(dir)`` and
``AutoTokenizer.from_pretrained(dir)`` load it like any other model, so the same code
serves a real 7B model directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..agent.prompts import build_prompt, render_scheme
from ..ledger import Document

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from ..synth import SyntheticCompany

END_OF_TEXT = "<|endoftext|>"
"""The padding token (Qwen's)."""
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
"""The end of a chat turn: where generation stops (Qwen's chat end-of-sequence token)."""
SPECIAL_TOKENS = (END_OF_TEXT, IM_START, IM_END)

# Qwen2's pre-tokenizer pattern: words, single digits, punctuation runs, whitespace.
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ChatML as Qwen writes it, with TRL's generation markers around the assistant's words so
# that a trainer can compute the loss on the answer only.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""Qwen-style ChatML; no default system message (ledgerpilot always sends its own)."""


def train_tokenizer(
    corpus: Iterable[str], vocab_size: int = 2000, max_length: int = 8192
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``corpus``, wrapped for transformers.

    Byte-level, so any text encodes (nothing is unknown); Qwen's pre-tokenization; the
    special tokens ``<|endoftext|>`` (padding), ``<|im_start|>``, ``<|im_end|>`` (end of
    sequence) and a ChatML chat template.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        chat_template=CHAT_TEMPLATE,
        model_max_length=max_length,
        padding_side="left",
    )


def build_tiny_model(
    out_dir: str | Path,
    corpus: Iterable[str],
    vocab_size: int = 2000,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate_size: int = 128,
    max_positions: int = 8192,
    seed: int = 0,
    initializer_range: float = 0.02,
) -> Path:
    """Save a random-weight Qwen2 causal LM and a tokenizer trained on ``corpus`` in ``out_dir``.

    ``initializer_range`` is the standard deviation of the random weights: transformers'
    0.02 suits wide models; about ``hidden_size ** -0.5`` keeps a narrow one's logits and
    attention scores away from uniform. Returns ``out_dir``. Deterministic for a given
    corpus and seed. Takes a few seconds.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, vocab_size, max_positions)
    eos = tokenizer.convert_tokens_to_ids(IM_END)
    pad = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    assert isinstance(eos, int) and isinstance(pad, int)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos, pad], pad_token_id=pad, do_sample=False
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def synthetic_corpus(
    company: SyntheticCompany, documents: int = 150, examples: int = 2
) -> list[str]:
    """Prompts and posting schemes rendered from the first ``documents`` of ``company``'s history.

    Each document is prompted with up to ``examples`` earlier documents of the same partner
    and kind, as the agent would; the texts are the system message, the user message and
    the answer of each document (the system message as often as it is sent, so that the
    tokenizer learns its words), plus the chart's account names.
    """
    earlier: dict[tuple[str, str], list[Document]] = {}
    texts: list[str] = []
    for n, document in enumerate(company.history()):
        if n >= documents:
            break
        key = (document.partner.id if document.partner else "", document.kind)
        shown = earlier.get(key, [])[-examples:][::-1] if examples else []
        prompt = build_prompt(document, company.chart, shown)
        texts.append(prompt.system)
        texts.append(prompt.user)
        texts.append(render_scheme(document))
        earlier.setdefault(key, []).append(document)
    texts.append(json.dumps({a.code: a.name for a in company.chart}, ensure_ascii=False))
    return texts


def build_test_model(
    base_dir: str | Path, name: str = "tiny-qwen2", initializer_range: float = 0.02
) -> Path:
    """The test suite's tiny model under ``base_dir``, built once and reused afterwards.

    Trained tokenizer from a small synthetic company on the ``hr`` chart (seed 7, one year
    of 300 documents); random weights of standard deviation ``initializer_range`` (give
    another ``name`` for another value: the directory is reused by name). A marker file
    written last makes a half-built directory (an interrupted run) count as absent.
    """
    from ..synth import generate

    out = Path(base_dir) / name
    marker = out / ".complete"
    if marker.exists():
        return out
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    build_tiny_model(out, synthetic_corpus(company), initializer_range=initializer_range)
    marker.write_text("ok\n")
    return out
