"""The training configuration: one typed object read from a TOML file.

A config file has top-level keys for the model and the run, and three tables::

    base_model = "models/Qwen2.5-Coder-7B-Instruct"   # any local model directory
    output_dir = "runs/domain"

    [data]            # chat JSON Lines as `ledgerpilot dataset build` writes them
    dir = "var/dataset"
    train = "train.jsonl"
    test = "test.jsonl"

    [lora]
    r = 16
    alpha = 16
    modules_to_save = []   # e.g. ["embed_tokens"]: trained whole beside the adapters
    ...

    [training]
    learning_rate = 2e-4
    ...

Relative paths are taken from the working directory, as the command line does. A
misspelt or unknown key is an error that names the key and the file (never silently
ignored), and so is a value of the wrong type or out of range.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ALL_LINEAR = "all-linear"
"""``target_modules`` value for every linear projection of the model (PEFT's shorthand)."""

QWEN_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""The seven linear projections of a Qwen2 / Llama decoder layer."""


class ConfigError(ValueError):
    """A training config that cannot be read or used; the message names the file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """Where the chat JSON Lines are: ``dir`` joined with the file names (or full paths)."""

    dir: Path | None = None
    """Directory of the data set (``ledgerpilot dataset build --out DIR``); optional."""
    train: Path = Path("train.jsonl")
    """Training examples, one ``{"messages": [...]}`` object per line."""
    test: Path | None = Path("test.jsonl")
    """Held-out examples for the eval loss; ``""`` for none."""
    max_train_examples: int | None = Field(default=None, ge=1)
    """Use only the first N training examples (quick trials)."""
    max_test_examples: int | None = Field(default=None, ge=1)
    """Use only the first N test examples (the eval loss costs a forward pass each)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_test_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("test") == "":
            return {**data, "test": None}
        return data

    @property
    def train_path(self) -> Path:
        """The training file's path."""
        return self.dir / self.train if self.dir is not None else self.train

    @property
    def test_path(self) -> Path | None:
        """The test file's path, or None when there is no test set."""
        if self.test is None:
            return None
        return self.dir / self.test if self.dir is not None else self.test


class LoraConfig(_Section):
    """The low-rank adapters: which weights get them, and how big they are."""

    r: int = Field(default=16, ge=1, le=1024)
    """Rank of the update matrices: capacity (and memory) of the adapter."""
    alpha: int = Field(default=16, ge=1)
    """Scaling: the update is multiplied by alpha / r."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the adapter's input; 0 lets Unsloth use its fast kernels."""
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: list(QWEN_LINEAR)
    )
    """Module names that get adapters, or ``"all-linear"``."""
    modules_to_save: list[str] = Field(default_factory=list)
    """Modules trained whole beside the adapters and saved whole with them (PEFT's
    ``modules_to_save``), typically ``embed_tokens`` and ``lm_head``: when the tokenizer
    gained tokens, or when the output layer itself must learn (a random base such as the
    tiny test model). A name takes every module whose dotted path ends with it. Where the
    model ties the two (``tie_word_embeddings``: small Qwen models), naming either trains
    one shared matrix, saved once and merged into both. Each costs vocabulary x hidden
    parameters of memory and of adapter size."""

    @model_validator(mode="after")
    def _some_targets(self) -> LoraConfig:
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("target_modules is empty: name the projections to adapt")
        if any(not name.strip() for name in self.modules_to_save):
            raise ValueError("modules_to_save has an empty name")
        return self


class TrainingConfig(_Section):
    """The optimisation: steps, batches, learning rate, precision, checkpoints."""

    max_seq_length: int = Field(default=2048, ge=16)
    """Longer examples are cut to this many tokens (the answer is at the end: keep it long)."""
    learning_rate: float = Field(default=2e-4, gt=0, le=1)
    lr_scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts"
    ] = "linear"
    warmup_steps: int = Field(default=0, ge=0)
    max_steps: int | None = Field(default=None, ge=1)
    """Optimizer steps to run; when set, it wins over ``epochs``."""
    epochs: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=2, ge=1)
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = Field(default=4, ge=1)
    """Forward passes per optimizer step (effective batch = batch_size x this)."""
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: str = "adamw_torch"
    """A transformers optimizer name (``adamw_8bit`` needs bitsandbytes and a GPU)."""
    load_in_4bit: bool = False
    """Quantise the frozen base weights to 4 bits (QLoRA; needs a CUDA GPU + bitsandbytes)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Compute precision; auto is bfloat16 on a GPU that has it, else float32."""
    response_only_loss: bool = True
    """Loss on the assistant's answer only; the prompt's tokens are masked out."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 20-30 % slower."""
    seed: int = 3407
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=100, ge=1)
    """Write a checkpoint every N steps (what ``resume`` continues from)."""
    save_total_limit: int | None = Field(default=3, ge=1)
    eval_steps: int | None = Field(default=None, ge=1)
    """Eval loss every N steps as well as at the end; None for the end only."""
    backend: Literal["auto", "unsloth", "peft"] = "auto"
    """auto: Unsloth on a CUDA machine that has it installed, else PEFT + TRL."""


class TrainConfig(_Section):
    """A complete training run: base model, data, adapter, optimisation, output."""

    base_model: Path
    """A local model directory (transformers layout: a real model, the tiny one, a converted GGUF)."""
    output_dir: Path
    """Checkpoints, the adapter (``adapter/``) and its model card and loss curve go here."""
    data: DataConfig = Field(default_factory=DataConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    resume: bool = False
    """Continue from the latest ``checkpoint-N`` in ``output_dir`` (fresh start if none)."""
    source: Path | None = Field(default=None, exclude=True)
    """The TOML file this config was read from (not part of the file itself)."""

    def check_paths(self) -> None:
        """Raise :class:`ConfigError` unless the base model and the data files exist."""
        where = f"{self.source}: " if self.source else ""
        base = self.base_model
        if base.suffix == ".gguf":
            # transformers marks a model loaded from GGUF as quantised and will not train it
            raise ConfigError(
                f"{where}base_model: {base} is a GGUF file, which cannot be trained directly; "
                "convert it to a model directory first (AutoModelForCausalLM.from_pretrained("
                "DIR, gguf_file=NAME).save_pretrained(OUT), the same for the tokenizer)"
            )
        if not (base / "config.json").is_file():
            raise ConfigError(
                f"{where}base_model: {base} is not a model directory (no config.json); "
                "give a local transformers model directory or a .gguf file"
            )
        files = [("data.train", self.data.train_path), ("data.test", self.data.test_path)]
        for key, path in files:
            if path is not None and not path.is_file():
                raise ConfigError(f"{where}{key}: no such file {path}")


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _explain(error: ValidationError, source: str) -> ConfigError:
    lines = []
    for item in error.errors():
        key = _location(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {key!r}")
        elif item["type"] == "missing":
            lines.append(f"{source}: missing key {key!r}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {key}: {message} (got {item.get('input')!r})")
    return ConfigError("\n".join(lines))


def parse_config(data: dict[str, Any], source: str = "<config>") -> TrainConfig:
    """A :class:`TrainConfig` from a parsed TOML mapping; errors name ``source`` and the key."""
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    return config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a TOML training config; ``overrides`` are dotted keys (``training.max_steps``).

    Raises :class:`ConfigError` for a missing file, bad TOML, or a bad key or value.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        *tables, key = dotted.split(".")
        table = data
        for name in tables:
            table = table.setdefault(name, {})
        table[key] = value
    config = parse_config(data, str(path))
    return config.model_copy(update={"source": path})
