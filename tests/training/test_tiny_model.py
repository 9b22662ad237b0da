"""The tiny Qwen2 model the tests build: loadable, offline, deterministic, ChatML, GGUF-exportable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.agent.prompts import SYSTEM_PROMPT
from ledgerpilot.ledger import parse_scheme
from ledgerpilot.synth import generate
from ledgerpilot.training.tiny_model import build_test_model, build_tiny_model, synthetic_corpus


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (shared with the agent tests of the same worker)."""
    return build_test_model(tmp_path_factory.getbasetemp())


def test_auto_classes_load_a_qwen2_model_and_its_tokenizer(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = model.config
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("qwen2", 64, 2)
    assert (config.num_attention_heads, config.num_key_value_heads) == (4, 2)
    assert config.vocab_size == len(tokenizer) == 2000
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert model.generation_config.eos_token_id == [
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    ]
    ids = tokenizer("Office rent 01/2025", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape == (1, ids.shape[1], 2000)


def test_the_chat_template_is_chatml_with_generation_markers(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    question = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tokenizer.apply_chat_template(question, add_generation_prompt=True, tokenize=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
    answer = '{"lines":[]}'
    rendered = tokenizer.apply_chat_template(
        [*question, {"role": "assistant", "content": answer}],
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    masked = [
        t for t, m in zip(rendered["input_ids"], rendered["assistant_masks"], strict=True) if m
    ]
    # Only the answer and its end-of-turn token are the assistant's: what SFT learns.
    assert tokenizer.decode(masked) == answer + "<|im_end|>"


def test_the_tokenizer_round_trips_and_splits_numbers_into_digits(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    text = SYSTEM_PROMPT + '\n{"net":"2862.46","text":"Plaćanje računa 3-1-1 € 🦙"}'
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.tokenize("2862.46") == ["2", "8", "6", "2", ".", "4", "6"]
    # Trained on the prompts, the tokenizer knows their words: the system message is
    # about a quarter of its characters in tokens.
    assert len(tokenizer(SYSTEM_PROMPT)["input_ids"]) < len(SYSTEM_PROMPT) / 3


def test_the_synthetic_corpus_holds_prompts_and_schemes() -> None:
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    corpus = synthetic_corpus(company, documents=5)
    assert len(corpus) == 3 * 5 + 1
    assert corpus[0::3][:5] == [SYSTEM_PROMPT] * 5
    assert all(text.startswith("CHART:") for text in corpus[1:15:3])
    for text in corpus[2:15:3]:
        scheme, found = parse_scheme(text)
        assert found == [] and scheme is not None
    assert json.loads(corpus[-1])["120000"]  # the chart's account names


def test_building_is_deterministic(tmp_path: Path) -> None:
    corpus = ["Office rent 01/2025 2862.46 Neretva Nekretnine d.o.o."] * 20
    first = build_tiny_model(tmp_path / "a", corpus, vocab_size=300, max_positions=512)
    second = build_tiny_model(tmp_path / "b", corpus, vocab_size=300, max_positions=512)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_gguf_export_keeps_the_vocabulary_and_the_weights(model_dir: Path, tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ledgerpilot.training.gguf_export import export_gguf

    path = export_gguf(model_dir, tmp_path / "tiny.gguf")
    reader = gguf.GGUFReader(path)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "qwen2"
    tokens_field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tokens_field.parts[i]).decode() for i in tokens_field.data]
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    assert tokens == tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    embeddings = next(t for t in reader.tensors if t.name == "token_embd.weight")
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    expected = model.get_input_embeddings().weight.detach().numpy()
    assert (embeddings.data.reshape(expected.shape) == expected).all()


def test_llama_cpp_computes_the_same_logits_as_transformers(
    model_dir: Path, tmp_path: Path
) -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    import numpy as np
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ledgerpilot.training.gguf_export import export_gguf

    path = export_gguf(model_dir, tmp_path / "tiny.gguf")
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    text = "Office rent 01/2025 for Neretva Nekretnine d.o.o., 2862.46 EUR"
    ids = tokenizer(text)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    llm = llama_cpp.Llama(str(path), n_ctx=256, logits_all=True, verbose=False, n_threads=1)
    try:
        assert llm.tokenize(text.encode(), add_bos=False) == ids
        llm.eval(ids)
        got = np.array(llm.scores[: len(ids)])
    finally:
        llm.close()
    assert np.abs(got - expected).max() < 1e-3
