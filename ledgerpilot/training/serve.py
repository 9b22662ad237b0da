"""Serving the trained model: the vLLM command line, and what to do where vLLM cannot run.

:func:`vllm_command` builds ``vllm serve`` for the OpenAI-compatible server with LoRA
modules, as the ``llm`` backend expects it: each module served under its own name (the
name ``LEDGERPILOT_LLM_MODEL`` asks for), ``--max-lora-rank`` read from the modules'
``adapter_config.json`` (rounded up to a rank vLLM accepts), ``--max-loras`` the number of
modules, and the structured-outputs backend named (``--structured-outputs-config.backend``,
vLLM 0.11 and later; the posting-scheme JSON schema arrives in each request's
``response_format``). The API key travels in the ``VLLM_API_KEY`` environment variable,
which vLLM reads like ``--api-key``, so that it shows neither in ``ps`` nor in a printed
command. The docker-compose ``vllm`` service runs the same arguments.

vLLM needs a CUDA GPU: :func:`vllm_unavailable` says why it cannot run here, and
:data:`ALTERNATIVES` what to run instead.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .merge import MergeError, read_module

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The ``--max-lora-rank`` values vLLM accepts (it refuses others)."""
STRUCTURED_BACKENDS = ("auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer")
"""vLLM's structured-outputs engines (``StructuredOutputsConfig.backend``)."""
DEFAULT_STRUCTURED_BACKEND = "xgrammar"
"""Named rather than ``auto`` so that a vLLM release changing its default changes nothing."""


class ServeError(ValueError):
    """The serving command cannot be built (a missing or unreadable adapter, a bad name)."""


@dataclass(frozen=True)
class ServeCommand:
    """A server command line and the environment it needs beyond the caller's."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables to set for the server (the API key), never printed."""
    model_names: tuple[str, ...] = ()
    """The names clients may ask for: the LoRA modules' first, then the base model's."""
    port: int = 8000

    def shell(self) -> str:
        """The command as one shell line (without the secret environment)."""
        return shlex.join(self.argv)

    def settings(self, host: str = "localhost") -> dict[str, str]:
        """The ``LEDGERPILOT_LLM_*`` settings that point the ``llm`` backend at this server."""
        found = {
            "LEDGERPILOT_LLM_BASE_URL": f"http://{host}:{self.port}/v1",
            "LEDGERPILOT_LLM_MODEL": self.model_names[0] if self.model_names else "",
            "LEDGERPILOT_LLM_STRUCTURED": "true",
        }
        if "VLLM_API_KEY" in self.env:
            found["LEDGERPILOT_LLM_API_KEY"] = "<the same key>"
        return found


def parse_modules(specs: Sequence[str]) -> list[tuple[str, Path]]:
    """``NAME=PATH`` options as (name, path) pairs; raises :class:`ServeError`."""
    modules: list[tuple[str, Path]] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ServeError(f"--adapter {spec!r}: give NAME=PATH, like domain=out/domain")
        modules.append((name.strip(), Path(path.strip())))
    names = [n for n, _ in modules]
    if len(set(names)) != len(names):
        raise ServeError(f"adapter names must differ, got {', '.join(names)}")
    return modules


def vllm_lora_rank(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds ``rank``."""
    for allowed in VLLM_LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise ServeError(f"LoRA rank {rank} exceeds vLLM's largest, {VLLM_LORA_RANKS[-1]}")


def vllm_command(
    base: str | Path,
    adapters: Sequence[tuple[str, str | Path]] = (),
    port: int = 8000,
    host: str = "0.0.0.0",
    served_model_name: str | None = None,
    api_key: str | None = None,
    max_model_len: int | None = None,
    structured_backend: str = DEFAULT_STRUCTURED_BACKEND,
) -> ServeCommand:
    """``vllm serve`` for ``base`` with the LoRA ``adapters`` (name, directory).

    ``served_model_name`` is the base model's name on the server (default: its directory
    name). Raises :class:`ServeError` for an adapter that is not a readable LoRA directory.
    """
    if structured_backend not in STRUCTURED_BACKENDS:
        raise ServeError(
            f"unknown structured-outputs backend {structured_backend!r}; one of "
            + ", ".join(STRUCTURED_BACKENDS)
        )
    base_name = served_model_name or Path(base).name or str(base)
    argv = ["vllm", "serve", str(base), f"--host={host}", f"--port={port}"]
    argv.append(f"--served-model-name={base_name}")
    names: list[str] = []
    if adapters:
        try:
            modules = [read_module(name, path) for name, path in adapters]
        except MergeError as exc:
            raise ServeError(str(exc)) from None
        if base_name in {m.name for m in modules}:
            raise ServeError(f"an adapter is named like the base model ({base_name!r}); rename it")
        argv += ["--enable-lora", "--lora-modules"]
        argv += [f"{m.name}={m.path}" for m in modules]
        argv.append(f"--max-lora-rank={vllm_lora_rank(max(m.rank for m in modules))}")
        argv.append(f"--max-loras={len(modules)}")
        names = [m.name for m in modules]
    if max_model_len is not None:
        argv.append(f"--max-model-len={max_model_len}")
    argv.append(f"--structured-outputs-config.backend={structured_backend}")
    env = {"VLLM_API_KEY": api_key} if api_key else {}
    return ServeCommand(tuple(argv), env, (*names, base_name), port)


def vllm_unavailable() -> str | None:
    """Why vLLM cannot serve on this machine, or ``None`` when it can."""
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (it comes with the gpu extra, on CUDA machines)"
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is available (vLLM serves on NVIDIA GPUs)"
    if shutil.which("vllm") is None:
        return "the vllm command is not on PATH"
    return None


ALTERNATIVES = """\
Serve the model with another OpenAI-compatible server instead:
  - llama.cpp's server (CPU): `make llamacpp`; merge the modules into the base
    (`ledgerpilot merge ... --full`), write a GGUF file (ledgerpilot.training.gguf_export
    for Qwen2 models, llama.cpp's convert_hf_to_gguf.py for others), then
    `python -m llama_cpp.server --model MODEL.gguf --port 8000`
  - transformers' own server: `transformers serve` (then ask for the model directory's path)
  - any other OpenAI-compatible server (Ollama, llama-server, TGI)
Then point the llm backend at it:
  LEDGERPILOT_LLM_BASE_URL=http://HOST:PORT/v1
  LEDGERPILOT_LLM_MODEL=<the model name the server serves>
  LEDGERPILOT_LLM_API_KEY=<its key, if it wants one>
  LEDGERPILOT_LLM_STRUCTURED=auto   (falls back to plain text if JSON schema is refused)
Or run the model in process with the local backend:
  LEDGERPILOT_LOCAL_MODEL_DIR=<base> LEDGERPILOT_LOCAL_ADAPTERS='["<adapter>", ...]'"""
"""What to do where vLLM cannot run."""


def exec_server(command: ServeCommand) -> None:
    """Replace this process with the server (returns only by raising ``OSError``)."""
    os.execvpe(command.argv[0], list(command.argv), {**os.environ, **command.env})
