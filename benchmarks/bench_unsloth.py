"""Benchmark: LoRA SFT throughput and peak GPU memory, Unsloth vs PEFT + TRL, 4-bit and 16-bit.

Target (issue 5): Unsloth at least 1.5x the tokens per second of PEFT + TRL with at most
0.6x its peak GPU memory, on the same model, data and config.

No pretrained weights can be downloaded, so the model is a randomly initialised one with
the Qwen2.5-7B architecture (``--layers`` shrinks it where 7B does not fit), saved once
as a local model directory; the data are chat examples rendered from a synthetic company
with ledgerpilot's own prompt, the tokenizer the tiny model's (trained on that corpus).
Both backends run through ``ledgerpilot.training.sft`` with one config, each arm in a
fresh child process (Unsloth patches transformers on import; peak memory is per process).

Prints one JSON line per arm, then a summary line with the ratios. Without CUDA it prints
one line saying it was skipped and why, and exits 0.

    python benchmarks/bench_unsloth.py [--layers 28] [--steps 30] [--warmup 5] [--seq 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Qwen2.5-7B(-Instruct / -Coder-7B-Instruct): config.json of the published models.
QWEN25_7B: dict[str, Any] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
}
ARMS = [("unsloth", True), ("peft", True), ("unsloth", False), ("peft", False)]


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def build_model(out: Path, layers: int) -> None:
    """Save a random Qwen2.5-7B-architecture model (bfloat16) and the tiny tokenizer in ``out``."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from ledgerpilot.synth import generate
    from ledgerpilot.training.tiny_model import IM_END, synthetic_corpus, train_tokenizer

    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    tokenizer = train_tokenizer(synthetic_corpus(company), vocab_size=2000, max_length=32768)
    eos, pad = tokenizer.convert_tokens_to_ids(IM_END), tokenizer.pad_token_id
    config = Qwen2Config(
        **{**QWEN25_7B, "num_hidden_layers": layers},
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):  # initialising 7B parameters on a CPU takes minutes
        model = Qwen2ForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(out, max_shard_size="5GB")
    tokenizer.save_pretrained(out)
    del model
    torch.cuda.empty_cache()


def write_data(out: Path, examples: int) -> Path:
    """``train.jsonl`` of chat examples from a synthetic company, as the dataset helper writes."""
    from ledgerpilot.agent.prompts import build_prompt, render_scheme
    from ledgerpilot.synth import generate

    company = generate("hr", years=2, inbox=0, seed=11, per_year=600)
    earlier: dict[tuple[str, str], list[Any]] = {}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "train.jsonl").open("w", encoding="utf-8") as handle:
        for n, document in enumerate(company.history()):
            if n >= examples:
                break
            key = (document.partner.id if document.partner else "", document.kind)
            prompt = build_prompt(document, company.chart, earlier.get(key, [])[-2:][::-1])
            handle.write(json.dumps({"messages": prompt.messages(render_scheme(document))}) + "\n")
            earlier.setdefault(key, []).append(document)
    return out


def arm(
    backend: str, four_bit: bool, model: Path, data: Path, work: Path, args: argparse.Namespace
) -> None:
    """Train one arm in this process; print its figures as a JSON line."""
    import torch
    from transformers import AutoTokenizer, TrainerCallback

    from ledgerpilot.training.config import parse_config
    from ledgerpilot.training.sft import prepare, read_chat_file, run

    config = parse_config(
        {
            "base_model": str(model),
            "output_dir": str(work / f"{backend}-{'4bit' if four_bit else '16bit'}"),
            "data": {"dir": str(data), "test": ""},
            "lora": {"r": 16, "alpha": 16, "dropout": 0.0},
            "training": {
                "backend": backend,
                "load_in_4bit": four_bit,
                "dtype": "bfloat16",
                "max_seq_length": args.seq,
                "learning_rate": 2e-4,
                "lr_scheduler": "linear",
                "warmup_steps": 2,
                "max_steps": args.steps,
                "batch_size": args.batch,
                "gradient_accumulation_steps": 1,
                "optimizer": "adamw_torch",
                "response_only_loss": True,
                "gradient_checkpointing": True,
                "logging_steps": 1,
                "save_steps": 10_000,
                "seed": 3407,
            },
        }
    )
    # Tokens per optimizer step: every example is cut at max_seq_length, the same for both.
    tokenizer: Any = AutoTokenizer.from_pretrained(model)
    lengths = [
        min(
            args.seq,
            len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"]),
        )
        for c in read_chat_file(data / "train.jsonl")
    ]
    mean_tokens = sum(lengths) / len(lengths)

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.times: dict[int, float] = {}

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            torch.cuda.synchronize()
            self.times[state.global_step] = time.perf_counter()

    torch.cuda.reset_peak_memory_stats()
    prepared = prepare(config)
    clock = StepClock()
    prepared.trainer.add_callback(clock)
    result = run(prepared, show_progress=False)
    measured = args.steps - args.warmup
    seconds = clock.times[args.steps] - clock.times[args.warmup]
    tokens = measured * args.batch * mean_tokens
    emit(
        {
            "arm": f"{backend}-{'4bit' if four_bit else '16bit'}",
            "backend": result.backend,
            "load_in_4bit": four_bit,
            "layers": args.layers,
            "steps_measured": measured,
            "seconds": round(seconds, 3),
            "tokens_per_second": round(tokens / seconds, 1),
            "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3),
            "final_loss": result.final_loss,
            "trainable_parameters": result.trainable_parameters,
            "gpu": torch.cuda.get_device_name(),
        }
    )


def summary(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Unsloth / PEFT ratios per precision, against the issue's targets."""
    out: dict[str, Any] = {"summary": True}
    for bits in ("4bit", "16bit"):
        fast, base = records.get(f"unsloth-{bits}"), records.get(f"peft-{bits}")
        if not fast or not base or "error" in fast or "error" in base:
            out[bits] = "incomplete"
            continue
        speed = fast["tokens_per_second"] / base["tokens_per_second"]
        memory = fast["peak_reserved_gib"] / base["peak_reserved_gib"]
        out[bits] = {
            "speedup": round(speed, 3),
            "memory_ratio": round(memory, 3),
            "meets_target": speed >= 1.5 and memory <= 0.6,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=28, help="decoder layers (28 = 7B)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    parser.add_argument("--seq", type=int, default=2048, help="max_seq_length")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--work", type=Path, default=None, help="keep the model here")
    parser.add_argument("--arm", default=None, help=argparse.SUPPRESS)  # child: backend:bits
    args = parser.parse_args()

    import importlib.util

    try:
        import torch
    except ImportError:
        emit({"benchmark": "bench_unsloth", "skipped": True, "reason": "torch is not installed"})
        return 0
    if not torch.cuda.is_available():
        emit(
            {
                "benchmark": "bench_unsloth",
                "skipped": True,
                "reason": "no CUDA device: Unsloth and bitsandbytes 4-bit need an NVIDIA GPU",
            }
        )
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_unsloth_"))
    model, data = work / f"qwen2.5-7b-arch-{args.layers}l", work / "data"
    if args.arm:
        backend, bits = args.arm.split(":")
        arm(backend, bits == "4", model, data, work, args)
        return 0
    if args.warmup >= args.steps:
        parser.error("--warmup must be less than --steps")
    started = time.perf_counter()
    if not (model / "config.json").is_file():
        build_model(model, args.layers)
    if not (data / "train.jsonl").is_file():
        write_data(data, args.examples)
    emit({"setup_seconds": round(time.perf_counter() - started, 1), "work": str(work)})
    have_unsloth = importlib.util.find_spec("unsloth") is not None
    have_bnb = importlib.util.find_spec("bitsandbytes") is not None
    records: dict[str, dict[str, Any]] = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for backend, four_bit in ARMS:
        name = f"{backend}-{'4bit' if four_bit else '16bit'}"
        if backend == "unsloth" and not have_unsloth:
            records[name] = {"arm": name, "error": "unsloth is not installed"}
        elif four_bit and not have_bnb:
            records[name] = {"arm": name, "error": "bitsandbytes is not installed"}
        else:
            command = [sys.executable, __file__, *sys.argv[1:], "--work", str(work)]
            command += ["--arm", f"{backend}:{4 if four_bit else 16}"]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith('{"arm"')]
            if done.returncode == 0 and lines:
                records[name] = json.loads(lines[-1])
            else:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                records[name] = {"arm": name, "error": " | ".join(tail)[-800:]}
        emit(records[name])
    emit(summary(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
