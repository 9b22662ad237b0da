"""`ledgerpilot train` (LoRA, PEFT + TRL on a CPU) teaches the tiny model what the `local` backend decodes.

The narrow task is the agent tests' (``narrow_task``: three short posted documents and a
chart of the accounts their entries use), whose full fine-tune with a plain torch loop is
proven in tests/agent/test_local_backend.py. Here the same answers must come from an
adapter made by the command a user runs: the ``entry`` examples written by the dataset
code, a TOML config, ``ledgerpilot train --config``, and the adapter directory handed to
``LocalBackend(model_dir, adapters=[...])``, which merges it. Greedy decoding, nothing
constrains the answer: it is valid only if the model learnt it.

Why this base and these settings. With transformers' default init (std 0.02) the 64-unit
tiny model's logits are nearly uniform, and LoRA on the projections cannot sharpen them:
the final norm and the embeddings (tied to the output layer) stay frozen, so the loss
hardly moves. The base for this test is therefore drawn with std ``64 ** -0.5`` (the usual
fan-in scale for a layer this narrow), and the embeddings are trained whole beside the
adapters (``lora.modules_to_save = ["embed_tokens"]``, kept tied to ``lm_head``). Tried
with several seeds, every run answered all three documents exactly from step 35 on; the
test runs 50 (the whole file: about 30 s of CPU, one torch thread).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.agent.backends.base import DraftRequest
from ledgerpilot.agent.backends.local import LocalBackend
from ledgerpilot.agent.prompts import render_scheme
from ledgerpilot.ledger import ChartOfAccounts, Document, validate
from ledgerpilot.synth import generate
from ledgerpilot.training.config import ConfigError, parse_config
from ledgerpilot.training.dataset import entry_example, write_jsonl
from ledgerpilot.training.tiny_model import build_test_model

from ..agent.conftest import SmallCompany
from ..agent.test_local_backend import narrow_task
from .test_train import one_thread  # noqa: F401  (the autouse fixture: one torch thread)

STEPS = 50
MAX_NEW_TOKENS = 300
"""Room for the longest of the three answers (136 tokens) and more."""

CONFIG = """\
# The narrow task on the tiny model: what tests/training/test_train_decode.py proves.
base_model = {base_model}
output_dir = {output_dir}

[data]
dir = {data_dir}
train = "train.jsonl"
test = ""                 # no held-out set: the three documents are the whole task

[lora]
r = 16
alpha = 32
dropout = 0.0
target_modules = "all-linear"
modules_to_save = ["embed_tokens"]   # tied to lm_head: the output layer learns too

[training]
backend = "peft"
dtype = "float32"
max_seq_length = 1024     # prompt and answer are about 600 tokens
learning_rate = 5e-3
lr_scheduler = "constant"
max_steps = {steps}
batch_size = 3            # the three documents in every step
gradient_accumulation_steps = 1
response_only_loss = true
seed = 3407
logging_steps = 1
save_steps = {steps}
"""


@pytest.fixture(scope="module")
def narrow() -> tuple[list[Document], ChartOfAccounts]:
    """The agent tests' narrow task, from the same synthetic company as the tiny model's."""
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    return narrow_task(SmallCompany(company, list(company.history())))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with the suite's tokenizer and weights drawn at std 64 ** -0.5."""
    return build_test_model(
        tmp_path_factory.getbasetemp(), name="tiny-qwen2-fan-in", initializer_range=64**-0.5
    )


def train_with_the_cli(
    base_model: Path, documents: list[Document], chart: ChartOfAccounts, work: Path
) -> dict[str, Any]:
    """``ledgerpilot train --config FILE --json`` on the narrow task: its JSON report."""
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    (work / "data").mkdir()
    write_jsonl(work / "data" / "train.jsonl", [entry_example(d, chart) for d in documents])
    config = work / "narrow.toml"
    config.write_text(
        CONFIG.format(
            base_model=json.dumps(str(base_model)),
            output_dir=json.dumps(str(work / "run")),
            data_dir=json.dumps(str(work / "data")),
            steps=STEPS,
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def check_the_loss_fell(report: dict[str, Any]) -> None:
    assert (report["backend"], report["global_step"]) == ("peft", STEPS)
    assert [d["examples"] for d in report["data"]] == [3]
    # near log(vocabulary) at first; the answers are learnt by heart at the end
    assert report["first_loss"] > 5.0
    assert report["final_loss"] < 0.1
    state = Path(report["output_dir"], f"checkpoint-{STEPS}", "trainer_state.json")
    losses = [r["loss"] for r in json.loads(state.read_text())["log_history"] if "loss" in r]
    assert len(losses) == STEPS
    assert max(losses[-10:]) < min(losses[:10]) / 20


def check_the_adapter(adapter: Path, base_model: Path, backend: LocalBackend) -> None:
    """PEFT's format with the trained, tied embeddings; the backend's merge is the adapter model."""
    from peft import PeftConfig, PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    config = PeftConfig.from_pretrained(str(adapter))
    assert (config.peft_type, config.r, config.lora_alpha) == ("LORA", 16, 32)
    assert "embed_tokens" in config.modules_to_save and config.ensure_weight_tying
    with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
    # both layers, seven projections each, A and B; plus the trained (tied) embeddings
    assert len([k for k in keys if ".lora_A." in k or ".lora_B." in k]) == 2 * 7 * 2
    assert any(k.endswith("embed_tokens.weight") for k in keys)
    # The backend merged the adapter, and its output layer is still the (trained)
    # embedding matrix: the same logits as PEFT's unmerged adapter model.
    model = backend.model
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    before = base.model.embed_tokens.weight.detach().clone()
    adapted = PeftModel.from_pretrained(base, str(adapter)).eval()
    ids = backend.tokenizer('{"document":"OT-2025-000001"', return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids=ids).logits, adapted(input_ids=ids).logits, rtol=1e-4, atol=1e-4
        )
    assert not torch.allclose(model.model.embed_tokens.weight, before)


def test_after_ledgerpilot_train_the_local_backend_answers_the_posted_schemes(
    base_model: Path, narrow: tuple[list[Document], ChartOfAccounts], tmp_path: Path
) -> None:
    """One test, so that ``pytest -n 2`` trains once (xdist may split a module's tests)."""
    documents, chart = narrow
    report = train_with_the_cli(base_model, documents, chart, tmp_path)
    check_the_loss_fell(report)
    adapter = Path(report["adapter_dir"])
    backend = LocalBackend(base_model, adapters=[adapter], max_new_tokens=MAX_NEW_TOKENS)
    check_the_adapter(adapter, base_model, backend)
    assert backend.model_name == "tiny-qwen2-fan-in+adapter"
    for document in documents:
        proposal = backend.propose(DraftRequest(document, chart))
        assert proposal.parse_violations == (), proposal.raw
        assert proposal.scheme is not None
        assert validate(proposal.scheme, chart, document) == []
        assert proposal.raw == render_scheme(document)
        assert proposal.extra["finish_reason"] == "stop"


def test_without_the_adapter_the_model_answers_no_valid_scheme(
    base_model: Path, narrow: tuple[list[Document], ChartOfAccounts]
) -> None:
    documents, chart = narrow
    bare = LocalBackend(base_model, max_new_tokens=MAX_NEW_TOKENS)
    for document in documents:
        proposal = bare.propose(DraftRequest(document, chart))
        assert proposal.raw != render_scheme(document)
        assert proposal.scheme is None or validate(proposal.scheme, chart, document) != []


def test_modules_to_save_names_must_not_be_empty() -> None:
    with pytest.raises(ConfigError, match="lora: modules_to_save has an empty name"):
        parse_config(
            {
                "base_model": "m",
                "output_dir": "o",
                "lora": {"modules_to_save": ["embed_tokens", ""]},
            }
        )
