"""Supervised fine-tuning of a LoRA adapter on chat JSON Lines: Unsloth on a GPU, PEFT + TRL elsewhere.

:func:`train` runs one :class:`~ledgerpilot.training.config.TrainConfig` end to end and
writes, under ``output_dir``:

* ``checkpoint-N/``: the trainer's checkpoints (what ``resume`` continues from);
* ``adapter/``: the adapter in PEFT's standard format (``adapter_config.json``,
  ``adapter_model.safetensors``) with the tokenizer, a model card (``README.md``: base
  model, data files with counts and SHA-256, the config, the losses), the loss curve
  (``loss_curve.png``) and ``train_result.json``.

Two backends, one config. On a CUDA machine with Unsloth installed (``backend = "auto"``
or ``"unsloth"``) the model is loaded with Unsloth's ``FastLanguageModel`` (4-bit per the
config, its gradient checkpointing) and the loss is restricted to the answers with
``train_on_responses_only``. Otherwise PEFT wraps a transformers model and TRL's
``SFTTrainer`` trains it; the answer-only loss uses the chat template's generation
markers where it has them (``assistant_only_loss``) and otherwise a prompt / completion
split of each conversation (``completion_only_loss``), so a stock Qwen2.5 template works
too. Any local model directory is a base model (nothing is downloaded).

``lora.modules_to_save`` names modules trained whole beside the adapters (embeddings, the
output layer). A model that ties its input embeddings to its output layer keeps them tied
(PEFT's ``ensure_weight_tying``): otherwise the trained copy of ``embed_tokens`` would
leave ``lm_head`` untrained, and a merge would give two different matrices.

:func:`prepare` and :func:`run` are the two halves of :func:`train`, for callers (and
tests) that want to look at the model between loading and training.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config import ALL_LINEAR, QWEN_LINEAR, ConfigError, TrainConfig
from .curves import loss_points, plot_loss_curve

Backend = Literal["unsloth", "peft"]
ProgressHook = Callable[[int, int], None]
"""Called as ``on_progress(step, total_steps)`` after every optimizer step."""

ADAPTER_DIR = "adapter"
LOSS_CURVE = "loss_curve.png"
MODEL_CARD = "README.md"
RESULT_FILE = "train_result.json"
ROLES = frozenset({"system", "user", "assistant"})
EMBEDDING_LAYERS = frozenset({"embed_tokens", "lm_head"})
"""The names of the input embeddings and the output layer (Qwen2, Llama, Mistral)."""
_GENERATION_MARKER = re.compile(r"{%-?\s*generation\s*-?%}")

# Where a chat turn of the user and of the assistant starts, per template family: what
# Unsloth's train_on_responses_only looks for to mask everything but the answers.
_TURN_MARKERS = {
    "<|im_start|>": ("<|im_start|>user\n", "<|im_start|>assistant\n"),  # ChatML: Qwen
    "<|start_header_id|>": (
        "<|start_header_id|>user<|end_header_id|>\n\n",
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),  # Llama 3
    "<start_of_turn>": ("<start_of_turn>user\n", "<start_of_turn>model\n"),  # Gemma
}


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class DataFile:
    """A data file as the model card records it."""

    role: str
    """``train`` or ``test``."""
    path: Path
    examples: int
    """Examples used (after ``max_*_examples``)."""
    lines: int
    """Examples in the file."""
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "role": self.role,
            "path": str(self.path),
            "examples": self.examples,
            "lines": self.lines,
            "sha256": self.sha256,
        }


def read_chat_file(path: Path) -> list[list[dict[str, str]]]:
    """The conversations of a chat JSON Lines file (each line ``{"messages": [...], ...}``).

    Other fields of a line (``task``, ``document``, ...) are ignored. Raises
    :class:`ConfigError` naming the file and line for a line that is not a conversation
    ending in an assistant turn.
    """
    conversations: list[list[dict[str, str]]] = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON: {exc.msg}") from None
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or not messages:
                raise ConfigError(f"{path}:{number}: no 'messages' list")
            for message in messages:
                if (
                    not isinstance(message, dict)
                    or message.get("role") not in ROLES
                    or not isinstance(message.get("content"), str)
                ):
                    raise ConfigError(
                        f"{path}:{number}: a message needs a role ({', '.join(sorted(ROLES))}) "
                        f"and a string content, got {message!r:.120}"
                    )
            if messages[-1]["role"] != "assistant":
                raise ConfigError(f"{path}:{number}: the last message is not the assistant's")
            conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if not conversations:
        raise ConfigError(f"{path}: no examples")
    return conversations


def _data_file(role: str, path: Path, conversations: int, used: int) -> DataFile:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return DataFile(role, path, used, conversations, digest)


def _load_data(config: TrainConfig) -> tuple[dict[str, list[Any]], list[DataFile]]:
    sets: dict[str, list[Any]] = {}
    files: list[DataFile] = []
    wanted = [
        ("train", config.data.train_path, config.data.max_train_examples),
        ("test", config.data.test_path, config.data.max_test_examples),
    ]
    for role, path, limit in wanted:
        if path is None:
            continue
        conversations = read_chat_file(path)
        used = conversations[:limit] if limit else conversations
        sets[role] = used
        files.append(_data_file(role, path, len(conversations), len(used)))
    return sets, files


# ---------------------------------------------------------------- backends


def cuda_available() -> bool:
    """True if torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    """True if the ``unsloth`` package can be imported (without importing it)."""
    return importlib.util.find_spec("unsloth") is not None


def choose_backend(config: TrainConfig) -> Backend:
    """The backend that will run ``config``; :class:`ConfigError` if the one asked for cannot."""
    wanted = config.training.backend
    if wanted == "peft":
        return "peft"
    ready = cuda_available() and unsloth_installed()
    if wanted == "unsloth" and not ready:
        raise ConfigError(
            f"{config.source or 'config'}: training.backend: 'unsloth' needs a CUDA GPU and the "
            "unsloth package (pip install -e '.[gpu]'); use 'auto' or 'peft' on this machine"
        )
    return "unsloth" if ready else "peft"


def _torch_dtype(config: TrainConfig, cuda: bool) -> Any:
    import torch

    name = config.training.dtype
    if name == "auto":
        if not cuda:
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, name)


def has_generation_markers(tokenizer: Any) -> bool:
    """True if the tokenizer's chat template marks the assistant's words for TRL."""
    template = getattr(tokenizer, "chat_template", None) or ""
    return bool(_GENERATION_MARKER.search(template))


def turn_markers(tokenizer: Any) -> tuple[str, str]:
    """The text that starts a user turn and an assistant turn in the tokenizer's chat template."""
    template = getattr(tokenizer, "chat_template", None) or ""
    for token, markers in _TURN_MARKERS.items():
        if token in template:
            return markers
    raise ConfigError(
        "training.response_only_loss: the chat template is not ChatML, Llama 3 or Gemma, so "
        "the answers cannot be told from the prompt; set response_only_loss = false"
    )


def ties_embeddings(model: Any, modules_to_save: Sequence[str]) -> bool:
    """True if ``model`` shares its input embeddings with its output layer and one of them is saved.

    Then PEFT must train and save one matrix for both (``ensure_weight_tying``), or the
    trained copy of ``embed_tokens`` would leave ``lm_head`` as it was.
    """
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    return tied and any(name.split(".")[-1] in EMBEDDING_LAYERS for name in modules_to_save)


def _load_peft(config: TrainConfig, cuda: bool) -> tuple[Any, Any]:
    """The base model wrapped with fresh LoRA adapters (PEFT), and its tokenizer."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    if config.training.load_in_4bit and (
        not cuda or importlib.util.find_spec("bitsandbytes") is None
    ):
        raise ConfigError(
            f"{config.source or 'config'}: training.load_in_4bit: 4-bit loading needs a CUDA "
            "GPU and bitsandbytes; set load_in_4bit = false to train in full precision here"
        )
    source = str(config.base_model)
    tokenizer: Any = AutoTokenizer.from_pretrained(source, local_files_only=True)
    kwargs: dict[str, Any] = {"dtype": _torch_dtype(config, cuda), "local_files_only": True}
    if config.training.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"],
        )
    model: Any = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if config.training.load_in_4bit:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.training.gradient_checkpointing
        )
    lora = config.lora
    set_seed(config.training.seed)  # the adapters' initial weights
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        modules_to_save=list(lora.modules_to_save) or None,
        ensure_weight_tying=ties_embeddings(model, lora.modules_to_save),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, peft_config)
    if not cuda:
        model = model.to(torch.device("cpu"))
    return model, tokenizer


def _load_unsloth(config: TrainConfig) -> tuple[Any, Any]:
    """The base model through Unsloth's FastLanguageModel with LoRA adapters, and its tokenizer."""
    import unsloth  # noqa: F401  (first: it patches transformers and TRL on import)
    from unsloth import FastLanguageModel

    training, lora = config.training, config.lora
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(config.base_model),
        max_seq_length=training.max_seq_length,
        dtype=None if training.dtype == "auto" else _torch_dtype(config, True),
        load_in_4bit=training.load_in_4bit,
        local_files_only=True,
    )
    targets = QWEN_LINEAR if lora.target_modules == ALL_LINEAR else lora.target_modules
    model = FastLanguageModel.get_peft_model(
        model,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(targets),
        modules_to_save=list(lora.modules_to_save) or None,
        bias="none",
        use_gradient_checkpointing="unsloth" if training.gradient_checkpointing else False,
        random_state=training.seed,
        max_seq_length=training.max_seq_length,
    )
    return model, tokenizer


def _datasets(
    sets: dict[str, list[Any]], tokenizer: Any, backend: Backend, response_only: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``datasets.Dataset`` per split in the form the backend's trainer wants, and SFT options."""
    from datasets import Dataset

    def build(rows: Callable[[list[dict[str, str]]], dict[str, Any]]) -> dict[str, Any]:
        return {role: Dataset.from_list([rows(c) for c in convs]) for role, convs in sets.items()}

    if backend == "unsloth":
        # Unsloth's train_on_responses_only masks rendered text by its turn markers.
        def text(c: list[dict[str, str]]) -> dict[str, Any]:
            return {"text": tokenizer.apply_chat_template(c, tokenize=False)}

        return build(text), {"dataset_text_field": "text"}
    if not response_only:
        return build(lambda c: {"messages": c}), {"assistant_only_loss": False}
    if has_generation_markers(tokenizer):
        return build(lambda c: {"messages": c}), {"assistant_only_loss": True}
    # No generation markers (a stock Qwen2.5 template): the last answer is the completion.
    return (
        build(lambda c: {"prompt": c[:-1], "completion": c[-1:]}),
        {"completion_only_loss": True},
    )


# ---------------------------------------------------------------- progress


def _progress_callback(on_progress: ProgressHook | None, show: bool) -> Any:
    """A TrainerCallback that draws a rich progress bar and calls ``on_progress`` per step."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        """Step bar with the latest train loss in its description."""

        def __init__(self) -> None:
            self.progress: Progress | None = None
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if show:
                self.progress = Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TimeRemainingColumn(),
                    console=Console(stderr=True),
                )
                self.progress.start()
                self.task = self.progress.add_task(
                    "training", total=state.max_steps, completed=state.global_step
                )

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)
            if on_progress is not None:
                on_progress(state.global_step, state.max_steps)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if self.progress is not None and logs and "loss" in logs:
                self.progress.update(self.task, description=f"training (loss {logs['loss']:.4f})")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return RichProgress()


# ---------------------------------------------------------------- the run


@dataclass
class PreparedRun:
    """A loaded model with its adapters and a trainer, ready for :func:`run`."""

    config: TrainConfig
    backend: Backend
    trainer: Any
    """The TRL ``SFTTrainer`` (its ``model`` is the PEFT model)."""
    tokenizer: Any
    data: list[DataFile]
    callbacks: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and how it went."""

    backend: Backend
    output_dir: Path
    adapter_dir: Path
    model_card: Path
    loss_curve: Path
    global_step: int
    first_loss: float | None
    """The first logged train loss (of the whole run, resumed parts included)."""
    final_loss: float | None
    """The last logged train loss."""
    eval_loss: float | None
    """Loss on the test set after training; None without one."""
    seconds: float
    """Wall time of this call's training (not of earlier, resumed-from parts)."""
    steps_per_second: float
    trainable_parameters: int
    total_parameters: int
    resumed_from: Path | None
    data: tuple[DataFile, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "backend": self.backend,
            "output_dir": str(self.output_dir),
            "adapter_dir": str(self.adapter_dir),
            "model_card": str(self.model_card),
            "loss_curve": str(self.loss_curve),
            "global_step": self.global_step,
            "first_loss": self.first_loss,
            "final_loss": self.final_loss,
            "eval_loss": self.eval_loss,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.steps_per_second, 4),
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
            "data": [d.as_dict() for d in self.data],
        }


def _sft_config(
    config: TrainConfig,
    backend: Backend,
    cuda: bool,
    dtype: Any,
    has_eval: bool,
    extra: dict[str, Any],
) -> Any:
    import torch
    from trl import SFTConfig

    t = config.training
    eval_strategy = "steps" if has_eval and t.eval_steps else "no"
    return SFTConfig(
        output_dir=str(config.output_dir),
        max_length=t.max_seq_length,
        packing=False,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_steps,
        max_steps=t.max_steps if t.max_steps is not None else -1,
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        weight_decay=t.weight_decay,
        optim=t.optimizer,
        # Unsloth checkpoints activations its own way (set on the model); TRL's for PEFT.
        gradient_checkpointing=t.gradient_checkpointing and backend == "peft",
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=cuda and dtype == torch.bfloat16,
        fp16=cuda and dtype == torch.float16,
        use_cpu=not cuda,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy=eval_strategy,
        eval_steps=t.eval_steps,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        **extra,
    )


def prepare(config: TrainConfig) -> PreparedRun:
    """Load the base model with fresh adapters, the data, and build the trainer.

    Raises :class:`ConfigError` for missing files, bad data lines, or a setting this
    machine cannot honour (4-bit without a GPU, ``backend = "unsloth"`` without Unsloth).
    """
    config.check_paths()
    backend = choose_backend(config)
    if backend == "unsloth":
        model, tokenizer = _load_unsloth(config)  # before TRL: Unsloth patches it on import
    cuda = cuda_available()
    if backend == "peft":
        model, tokenizer = _load_peft(config, cuda)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    sets, files = _load_data(config)
    response_only = config.training.response_only_loss
    datasets, extra = _datasets(sets, tokenizer, backend, response_only)
    from trl import SFTTrainer

    dtype = _torch_dtype(config, cuda)
    args = _sft_config(config, backend, cuda, dtype, "test" in datasets, extra)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets.get("test"),
        processing_class=tokenizer,
    )
    if backend == "unsloth" and response_only:
        from unsloth.chat_templates import train_on_responses_only

        instruction, response = turn_markers(tokenizer)
        trainer = train_on_responses_only(
            trainer, instruction_part=instruction, response_part=response
        )
    return PreparedRun(config, backend, trainer, tokenizer, files)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The ``checkpoint-N`` directory with the highest N in ``output_dir``, if any."""
    if not output_dir.is_dir():
        return None
    found = [
        (int(p.name.removeprefix("checkpoint-")), p)
        for p in output_dir.iterdir()
        if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)
    ]
    return max(found)[1] if found else None


def _parameters(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def run(
    prepared: PreparedRun, on_progress: ProgressHook | None = None, show_progress: bool = True
) -> TrainResult:
    """Train a :func:`prepare`-d run; save the adapter, its model card and the loss curve."""
    config, trainer = prepared.config, prepared.trainer
    trainer.add_callback(_progress_callback(on_progress, show_progress))
    resumed_from = latest_checkpoint(config.output_dir) if config.resume else None
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from else None)
    seconds = time.monotonic() - started
    eval_loss = None
    if trainer.eval_dataset is not None:
        eval_loss = float(trainer.evaluate()["eval_loss"])
    adapter_dir = config.output_dir / ADAPTER_DIR
    trainer.model.save_pretrained(adapter_dir)
    prepared.tokenizer.save_pretrained(adapter_dir)
    history = trainer.state.log_history
    losses = loss_points(history)
    curve = plot_loss_curve(history, adapter_dir / LOSS_CURVE, f"{config.base_model.name} + LoRA")
    trainable, total = _parameters(trainer.model)
    steps_done = trainer.state.global_step - (
        int(resumed_from.name.split("-")[1]) if resumed_from else 0
    )
    result = TrainResult(
        backend=prepared.backend,
        output_dir=config.output_dir,
        adapter_dir=adapter_dir,
        model_card=adapter_dir / MODEL_CARD,
        loss_curve=curve,
        global_step=int(trainer.state.global_step),
        first_loss=losses[0][1] if losses else None,
        final_loss=losses[-1][1] if losses else None,
        eval_loss=eval_loss,
        seconds=seconds,
        steps_per_second=steps_done / seconds if seconds > 0 else 0.0,
        trainable_parameters=trainable,
        total_parameters=total,
        resumed_from=resumed_from,
        data=tuple(prepared.data),
    )
    write_model_card(result, config)
    (adapter_dir / RESULT_FILE).write_text(
        json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return result


def train(
    config: TrainConfig, on_progress: ProgressHook | None = None, show_progress: bool = True
) -> TrainResult:
    """Fine-tune a LoRA adapter as ``config`` says (see the module docstring for the outputs)."""
    return run(prepare(config), on_progress, show_progress)


# ---------------------------------------------------------------- model card


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def write_model_card(result: TrainResult, config: TrainConfig) -> Path:
    """The adapter's ``README.md``: base model, data (counts, hashes), config, losses."""
    base = str(config.base_model)
    rows = [
        f"| {d.role} | `{d.path}` | {d.examples} of {d.lines} | `{d.sha256}` |" for d in result.data
    ]
    settings = json.dumps(config.model_dump(mode="json"), indent=2)
    card = f"""---
base_model: {json.dumps(base)}
library_name: peft
pipeline_tag: text-generation
tags: [ledgerpilot, lora, sft, accounting, posting-schemes]
---

# LoRA adapter for ledgerpilot's posting model

Trained by `ledgerpilot train` from the config `{config.source or "(not from a file)"}` with
the **{result.backend}** backend ({"Unsloth FastLanguageModel" if result.backend == "unsloth" else "PEFT + TRL SFTTrainer"}).

## Base model

`{base}`

Load with PEFT: `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter_dir)`,
or give this directory to ledgerpilot's `local` backend as an adapter.

## Data

| split | file | examples used | SHA-256 |
|---|---|---|---|
{chr(10).join(rows)}

Loss on the answers only (the prompt is masked): {config.training.response_only_loss}.

## Metrics

| figure | value |
|---|---|
| optimizer steps | {result.global_step} |
| first train loss | {_figure(result.first_loss)} |
| final train loss | {_figure(result.final_loss)} |
| eval loss (test set) | {_figure(result.eval_loss)} |
| trainable parameters | {result.trainable_parameters:,} of {result.total_parameters:,} |
| training time (this run) | {result.seconds:.1f} s, {result.steps_per_second:.3f} steps/s |
| resumed from | {result.resumed_from or "no checkpoint (fresh start)"} |

![loss curve]({LOSS_CURVE})

## Config

```json
{settings}
```
"""
    path = result.adapter_dir / MODEL_CARD
    path.write_text(card, encoding="utf-8")
    return path


def trainable_parameter_names(model: Any) -> Sequence[str]:
    """Names of the parameters that the optimizer updates."""
    return [name for name, p in model.named_parameters() if p.requires_grad]
