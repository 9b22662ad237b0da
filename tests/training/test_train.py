"""SFT of a LoRA adapter on the tiny model (PEFT + TRL on CPU): what `ledgerpilot train` promises.

One short training run is shared by most tests (module fixture ``trained``); the others
build a trainer without training it, or resume from the shared run's checkpoint in a copy.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.agent.prompts import build_prompt, render_scheme
from ledgerpilot.synth import generate
from ledgerpilot.training.config import TrainConfig, parse_config
from ledgerpilot.training.sft import (
    PreparedRun,
    TrainResult,
    latest_checkpoint,
    prepare,
    run,
    trainable_parameter_names,
)
from ledgerpilot.training.tiny_model import build_test_model

STEPS = 8


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: with pytest -n 2 on two cores, more threads only wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (shared with the other model tests of the same worker)."""
    return build_test_model(tmp_path_factory.getbasetemp())


def write_chat_files(out: Path, train: int = 12, test: int = 2) -> Path:
    """train.jsonl / test.jsonl in the dataset layout, from a small synthetic company.

    Prompts without examples (the shortest the agent sends), the answers rendered as the
    backends expect them; the extra fields of the dataset layout ride along.
    """
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    rows = []
    for document in company.history():
        if len(rows) == train + test:
            break
        prompt = build_prompt(document, company.chart)
        rows.append(
            {
                "messages": prompt.messages(render_scheme(document)),
                "task": "entry",
                "document": document.id,
                "kind": document.kind,
                "date": document.date.isoformat(),
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.jsonl", rows[:train]), ("test.jsonl", rows[train:])):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chat_files(tmp_path_factory.mktemp("chat"))


def tiny_config(model_dir: Path, data_dir: Path, output_dir: Path, **training: Any) -> TrainConfig:
    """The tiny-cpu settings with a few steps; ``training`` overrides the [training] table."""
    settings: dict[str, Any] = {
        "backend": "peft",
        "dtype": "float32",
        "max_seq_length": 4096,
        "learning_rate": 5e-3,
        "max_steps": STEPS,
        "batch_size": 2,
        "gradient_accumulation_steps": 1,
        "logging_steps": 1,
        "save_steps": 4,
        "save_total_limit": 4,
        "seed": 3407,
    }
    settings.update(training)
    return parse_config(
        {
            "base_model": str(model_dir),
            "output_dir": str(output_dir),
            "data": {"dir": str(data_dir)},
            "lora": {"r": 8, "alpha": 16, "target_modules": "all-linear"},
            "training": settings,
        }
    )


def lora_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}


@pytest.fixture(scope="module")
def trained(
    model_dir: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PreparedRun, TrainResult, dict[str, torch.Tensor]]:
    """One training run of STEPS steps: the prepared run, its result, the LoRA weights before."""
    config = tiny_config(model_dir, data_dir, tmp_path_factory.mktemp("run") / "out")
    prepared = prepare(config)
    before = lora_state(prepared.trainer.model)
    steps: list[tuple[int, int]] = []
    result = run(prepared, on_progress=lambda n, total: steps.append((n, total)))
    assert steps == [(n, STEPS) for n in range(1, STEPS + 1)]
    return prepared, result, before


def test_the_loss_falls(trained: tuple[PreparedRun, TrainResult, Any]) -> None:
    _, result, _ = trained
    assert result.backend == "peft" and result.global_step == STEPS
    assert result.first_loss is not None and result.final_loss is not None
    assert result.final_loss < result.first_loss - 0.05
    assert result.eval_loss is not None and result.eval_loss < result.first_loss


def test_every_lora_parameter_changes_and_only_lora_trains(
    trained: tuple[PreparedRun, TrainResult, dict[str, torch.Tensor]],
) -> None:
    prepared, result, before = trained
    model = prepared.trainer.model
    names = trainable_parameter_names(model)
    assert names and all("lora_A" in n or "lora_B" in n for n in names)
    assert set(names) == set(before)
    # all seven projections of both layers carry adapters
    assert len(before) == 2 * 7 * 2
    after = lora_state(model)
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert unchanged == []
    assert result.trainable_parameters == sum(t.numel() for t in before.values())
    base = {n: p for n, p in model.named_parameters() if "lora_" not in n}
    assert all(not p.requires_grad for p in base.values())


def test_the_adapter_reloads_with_peft_and_gives_the_same_logits(
    trained: tuple[PreparedRun, TrainResult, Any], model_dir: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    prepared, result, _ = trained
    adapter = result.adapter_dir
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["peft_type"]) == (8, 16, "LORA")
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(base, adapter).eval()
    trained_model = prepared.trainer.model.eval()
    ids = prepared.tokenizer("Office rent 01/2025 2862.46 EUR", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = trained_model(input_ids=ids).logits
        got = reloaded(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    # the adapter matters: without it the logits differ
    plain = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(input_ids=ids).logits, expected, atol=1e-4)


def test_the_loss_curve_and_the_model_card_say_what_was_trained(
    trained: tuple[PreparedRun, TrainResult, Any], model_dir: Path, data_dir: Path
) -> None:
    _, result, _ = trained
    png = result.loss_curve.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    card = result.model_card.read_text(encoding="utf-8")
    assert card.startswith("---\n") and f'base_model: "{model_dir}"' in card
    assert "library_name: peft" in card
    import hashlib

    for name, count in (("train.jsonl", 12), ("test.jsonl", 2)):
        path = data_dir / name
        assert (
            f"`{path}` | {count} of {count} | `{hashlib.sha256(path.read_bytes()).hexdigest()}`"
            in card
        )
    assert f"| final train loss | {result.final_loss:.4f} |" in card
    assert f"| eval loss (test set) | {result.eval_loss:.4f} |" in card
    assert '"learning_rate": 0.005' in card and '"response_only_loss": true' in card
    saved = json.loads((result.adapter_dir / "train_result.json").read_text())
    assert saved["global_step"] == STEPS and saved["final_loss"] == result.final_loss


def test_resume_continues_from_the_latest_checkpoint(
    trained: tuple[PreparedRun, TrainResult, Any], model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    _, first, _ = trained
    output = tmp_path / "out"
    shutil.copytree(first.output_dir, output)
    assert latest_checkpoint(output) == output / f"checkpoint-{STEPS}"
    config = tiny_config(model_dir, data_dir, output, max_steps=STEPS + 2).model_copy(
        update={"resume": True}
    )
    result = run(prepare(config), show_progress=False)
    assert result.resumed_from == output / f"checkpoint-{STEPS}"
    assert result.global_step == STEPS + 2
    state = json.loads((output / f"checkpoint-{STEPS + 2}" / "trainer_state.json").read_text())
    steps = [r["step"] for r in state["log_history"] if "loss" in r]
    # the first run's steps come from the checkpoint; only two new steps were trained
    assert steps == list(range(1, STEPS + 3))
    assert result.first_loss == first.first_loss


def _label_check(prepared: PreparedRun, after: str = "") -> None:
    """Labels are -100 on the prompt and equal the input on the answer, its end token and ``after``."""
    tokenizer = prepared.tokenizer
    batch = next(iter(prepared.trainer.get_train_dataloader()))
    lines = prepared.config.data.train_path.read_text().splitlines()
    answers = {json.loads(line)["messages"][-1]["content"] + "<|im_end|>" + after for line in lines}
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    learned = ids[labels != -100]
    assert tokenizer.decode(learned) in answers
    masked = ids[labels == -100]
    assert "CHART:" in tokenizer.decode(masked) and "You are a bookkeeper" in tokenizer.decode(
        masked
    )


def test_response_only_loss_masks_the_prompt(
    model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    prepared = prepare(tiny_config(model_dir, data_dir, tmp_path / "out"))
    assert prepared.trainer.args.assistant_only_loss is True
    _label_check(prepared)


def test_a_template_without_generation_markers_still_masks_the_prompt(
    model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    """A stock Qwen2.5 chat template has no {% generation %}: the answer is the completion."""
    plain = tmp_path / "plain-template"
    shutil.copytree(model_dir, plain)
    template = (plain / "chat_template.jinja").read_text()
    stripped = template.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    assert stripped != template
    (plain / "chat_template.jinja").write_text(stripped)
    prepared = prepare(tiny_config(plain, data_dir, tmp_path / "out"))
    assert prepared.trainer.args.completion_only_loss is True
    # TRL's completion is the rest of the rendered chat: the turn's newline is learned too
    _label_check(prepared, after="\n")


def test_without_response_only_loss_the_prompt_is_learned_too(
    model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    prepared = prepare(tiny_config(model_dir, data_dir, tmp_path / "out", response_only_loss=False))
    batch = next(iter(prepared.trainer.get_train_dataloader()))
    real = batch["attention_mask"][0].bool()
    assert (batch["labels"][0][real] != -100).all()


def test_the_cli_trains_from_a_toml_file(model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    shipped = (Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.toml").read_text()
    text = shipped.replace('"var/tiny-qwen2"', json.dumps(str(model_dir)))
    text = text.replace('"var/dataset"', json.dumps(str(data_dir)))
    text = text.replace('"var/runs/tiny"', json.dumps(str(tmp_path / "run")))
    config = tmp_path / "tiny.toml"
    config.write_text(text)
    result = CliRunner().invoke(
        app, ["train", "--config", str(config), "--max-steps", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["backend"], report["global_step"]) == ("peft", 2)
    assert Path(report["adapter_dir"], "adapter_model.safetensors").is_file()
    assert [d["examples"] for d in report["data"]] == [12, 2]


@pytest.mark.gpu
@pytest.mark.skipif(
    importlib.util.find_spec("unsloth") is None, reason="needs Unsloth (the gpu extra)"
)
def test_unsloth_trains_the_tiny_model_with_the_answer_only_loss(
    model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    config = tiny_config(model_dir, data_dir, tmp_path / "out", backend="unsloth", dtype="auto")
    prepared = prepare(config)
    assert prepared.backend == "unsloth"
    batch = next(iter(prepared.trainer.get_train_dataloader()))
    labels = batch["labels"][0]
    assert (labels == -100).any() and (labels != -100).any()  # the prompt is masked
    before = lora_state(prepared.trainer.model)
    result = run(prepared, show_progress=False)
    after = lora_state(prepared.trainer.model)
    assert result.global_step == STEPS and result.final_loss is not None
    assert result.first_loss is not None and result.final_loss < result.first_loss
    assert [n for n in before if torch.equal(before[n].cpu(), after[n].cpu())] == []
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
