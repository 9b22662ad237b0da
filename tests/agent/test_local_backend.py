"""The ``local`` backend: the tiny model in process, before and after a short training."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.agent.backends.base import DraftRequest
from ledgerpilot.agent.backends.local import LocalBackend
from ledgerpilot.agent.prompts import build_prompt, render_scheme
from ledgerpilot.ledger import ChartOfAccounts, Document, validate

from .conftest import SmallCompany

NARROW_KINDS = ("depreciation", "bank_receipt", "other")
"""Short documents: the narrow task trains in seconds on a CPU."""


def narrow_task(company: SmallCompany) -> tuple[list[Document], ChartOfAccounts]:
    """Three posted documents and a chart of just the accounts their entries use."""
    documents = [company.first(kind) for kind in NARROW_KINDS]
    codes = {ln.account for d in documents for ln in d.entry.lines}  # type: ignore[union-attr]
    chart = ChartOfAccounts(tuple(a for a in company.company.chart if a.code in codes))
    return documents, chart


def fine_tune(
    model_dir: Path, documents: list[Document], chart: ChartOfAccounts, out: Path
) -> tuple[Path, list[float]]:
    """Full fine-tune of the tiny model on (prompt -> scheme) for ``documents``; the loss curve.

    A plain torch loop: one left-padded batch, loss on the answer tokens only, AdamW; it
    stops once the loss is below 0.03 (82 steps), at 250 steps at most.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rows = []
    for document in documents:
        prompt = build_prompt(document, chart)
        question = tokenizer.apply_chat_template(
            prompt.messages(), add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        whole = tokenizer.apply_chat_template(
            prompt.messages(render_scheme(document)), tokenize=True, return_dict=True
        )["input_ids"]
        assert whole[: len(question)] == question
        rows.append((whole, [-100] * len(question) + whole[len(question) :]))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids, _ in rows])
    labels = torch.tensor([[-100] * (width - len(lab)) + lab for _, lab in rows])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in rows])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    model.train()
    losses: list[float] = []
    for _ in range(250):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if losses[-1] < 0.03:
            break
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, losses


def test_random_model_gives_a_proposal_with_violations(
    tiny_model_dir: Path, small_company: SmallCompany
) -> None:
    backend = LocalBackend(tiny_model_dir, max_new_tokens=16)
    document = small_company.company.inbox[0]
    proposal = backend.propose(DraftRequest(document, small_company.company.chart))
    assert proposal.backend == "local"
    assert proposal.model == "tiny-qwen2"
    assert proposal.scheme is None
    assert [v.code for v in proposal.parse_violations] == ["malformed"]
    assert proposal.confidence == 0.0
    assert proposal.extra["completion_tokens"] == 16
    assert proposal.extra["finish_reason"] == "length"


@pytest.fixture(scope="module")
def trained(
    tiny_model_dir: Path, small_company: SmallCompany, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[float]]:
    """The tiny model fine-tuned on the narrow task, and its loss curve."""
    documents, chart = narrow_task(small_company)
    return fine_tune(tiny_model_dir, documents, chart, tmp_path_factory.mktemp("trained"))


def test_after_a_short_training_the_model_answers_valid_schemes(
    trained: tuple[Path, list[float]], small_company: SmallCompany
) -> None:
    documents, chart = narrow_task(small_company)
    model_dir, losses = trained
    assert losses[-1] < 0.03 < losses[0]
    backend = LocalBackend(model_dir, max_new_tokens=300)
    for document in documents:
        proposal = backend.propose(DraftRequest(document, chart))
        assert proposal.parse_violations == (), proposal.raw
        assert proposal.scheme is not None
        assert proposal.raw == render_scheme(document)
        assert validate(proposal.scheme, chart, document) == []
        assert proposal.extra["finish_reason"] == "stop"
        # The model is sure of the accounts it learnt.
        assert proposal.confidence > 0.5


def test_a_batch_answers_as_each_request_alone(
    trained: tuple[Path, list[float]], small_company: SmallCompany
) -> None:
    """Concurrent requests decoded as one left-padded batch give the one-at-a-time answers.

    The batch mixes prompts of different lengths, answers that end at their scheme at
    different steps and answers that run to ``max_new_tokens`` (documents the model was
    not trained on).
    """
    documents, chart = narrow_task(small_company)
    others = [d for d in small_company.company.inbox if d.kind not in NARROW_KINDS][:3]
    requests = [DraftRequest(d, chart) for d in [*documents, *others]]
    model_dir, _ = trained
    alone = LocalBackend(model_dir, max_new_tokens=120)
    expected = [alone.propose(r) for r in requests]
    assert {p.extra["finish_reason"] for p in expected} == {"stop", "length"}
    assert len({p.extra["prompt_tokens"] for p in expected}) > 1
    assert len({p.extra["completion_tokens"] for p in expected}) > 2
    # One thread per request and a batch as large: the batch fills, whatever the timing.
    together = LocalBackend(model_dir, max_new_tokens=120, batch_size=6, batch_wait=30.0)
    with ThreadPoolExecutor(max_workers=6) as pool:
        batched = list(pool.map(together.propose, requests))
    assert [p.extra["batch"] for p in batched] == [6] * 6
    for one, many in zip(expected, batched, strict=True):
        assert many.raw == one.raw
        assert many.scheme == one.scheme
        assert many.parse_violations == one.parse_violations
        for key in ("prompt_tokens", "completion_tokens", "finish_reason"):
            assert many.extra[key] == one.extra[key], key
        assert many.confidence == pytest.approx(one.confidence, rel=1e-4, abs=1e-6)
    # Fewer threads than the batch: smaller batches, the same answers.
    with ThreadPoolExecutor(max_workers=2) as pool:
        paired = list(
            pool.map(
                LocalBackend(model_dir, max_new_tokens=120, batch_size=6, batch_wait=0.01).propose,
                requests,
            )
        )
    assert [p.raw for p in paired] == [p.raw for p in expected]


def test_a_peft_lora_adapter_loads_through_adapters(
    tiny_model_dir: Path, small_company: SmallCompany, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    torch.manual_seed(1)
    adapted = get_peft_model(base, config)
    adapter = tmp_path / "rent-lora"
    adapted.save_pretrained(str(adapter))

    backend = LocalBackend(tiny_model_dir, adapters=[adapter], max_new_tokens=4)
    assert backend.model_name == "tiny-qwen2+rent-lora"
    tokenizer: Any = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer("Office rent 01/2025", return_tensors="pt")["input_ids"]
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        expected = adapted(input_ids=ids).logits
        merged = backend.model(input_ids=ids).logits
        without = plain(input_ids=ids).logits
    # The adapter's weights are in the backend's model, and they change its outputs.
    torch.testing.assert_close(merged, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(merged, without, atol=1e-4)
    proposal = backend.propose(
        DraftRequest(small_company.company.inbox[0], small_company.company.chart)
    )
    assert proposal.model == "tiny-qwen2+rent-lora"


def test_a_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        LocalBackend(tmp_path / "nowhere")
