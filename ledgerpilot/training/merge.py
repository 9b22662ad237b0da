"""Combining LoRA modules (a domain and a numeric module, after NumLLM) into one.

PEFT's ``add_weighted_adapter`` builds one adapter from several, weighted:

- ``linear``: the weighted sum of the A and of the B matrices; cheap, a rough approximation
  of the summed updates; all adapters must have the same rank.
- ``ties`` (TIES-merging): trims each module's update to its ``density`` largest values,
  elects a sign per weight and averages the agreeing values; same rank; needs ``density``.
- ``dare_ties`` (DARE then TIES): drops values at random (keeping ``density``) and rescales
  the rest before the TIES sign election; same rank; needs ``density``; random, so seeded.
- ``svd``: the weighted sum of the full updates ``B @ A``, factored back to rank ``svd_rank``
  (default: the largest rank of the modules) by a singular value decomposition; any ranks.
- ``cat``: the A and B matrices stacked; exactly the weighted sum of the updates, at the
  sum of the ranks; any ranks.

The combined adapter is saved in PEFT's format, or, with ``full``, merged into the base
weights (``merge_and_unload``) and saved as a complete model directory with the base's
tokenizer, ready to serve. Either way the saved result is reloaded and its logits on a few
prompts compared with those of the combined adapter in memory: a difference above the
tolerance raises :class:`MergeCheckFailed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("linear", "ties", "dare_ties", "svd", "cat")
"""The combination methods offered (PEFT's ``combination_type`` names)."""
SAME_RANK = frozenset({"linear", "ties", "dare_ties"})
"""Methods that need every module at the same rank."""
NEED_DENSITY = frozenset({"ties", "dare_ties"})
"""Methods that prune, and so need a density."""
COMBINED = "default"
"""The combined adapter's name: PEFT saves the ``default`` adapter at the top of a directory."""
EXACT = "exact-sum"
"""A scratch adapter: the modules stacked (``cat``), the exact sum the others approximate."""
CHECK_PROMPTS = (
    "Office rent 01/2025 for Neretva Nekretnine d.o.o., net 2862.46 EUR, VAT 25% 715.62.",
    '{"document": "INV-2025-0042", "kind": "supplier_invoice", "lines": [',
    "Payroll for March: gross salaries 18400.00, contributions 3036.00, net paid 12500.00.",
)
"""Texts on whose logits the saved result must agree with the combined adapter."""
DEFAULT_TOLERANCE = {"float32": 1e-3, "bfloat16": 0.1, "float16": 0.05}
"""Largest accepted logit difference per dtype (rounding of a merged weight differs)."""

Step = Callable[[str], None]


class MergeError(ValueError):
    """The modules cannot be combined as asked (ranks, density, weights, missing files)."""


class MergeCheckFailed(RuntimeError):
    """The saved result does not compute what the combined adapter computes."""


@dataclass(frozen=True)
class Module:
    """A LoRA module to combine: its name and its PEFT adapter directory."""

    name: str
    path: Path
    rank: int
    alpha: float
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_adapters` did, and how closely the result matches."""

    out_dir: str
    method: str
    weights: tuple[float, ...]
    density: float | None
    modules: dict[str, str]
    """Module name -> adapter directory."""
    ranks: dict[str, int]
    rank: int
    """The combined adapter's rank."""
    full: bool
    """True: a complete model directory; False: a PEFT adapter."""
    max_abs_diff: float
    """Largest logit difference between the reloaded result and the adapter in memory."""
    tolerance: float
    prompts: int
    changed_base: float
    """Largest logit difference between the combined adapter and the bare base model: 0
    would mean the modules do nothing, and the check would prove nothing."""
    from_exact: float
    """Largest logit difference between the combined adapter and the exact weighted sum of
    the modules' updates (``cat``): what the method's approximation costs (0 for ``cat``)."""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return asdict(self)


def read_module(name: str, path: str | Path) -> Module:
    """The LoRA module at ``path`` (its ``adapter_config.json``); raises :class:`MergeError`."""
    directory = Path(path)
    config_file = directory / "adapter_config.json"
    if not config_file.is_file():
        raise MergeError(
            f"module {name!r}: {directory} is not a PEFT adapter directory (no adapter_config.json)"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MergeError(f"module {name!r}: cannot read {config_file}: {exc}") from exc
    if config.get("peft_type") != "LORA":
        raise MergeError(
            f"module {name!r}: {directory} holds a {config.get('peft_type')} adapter, not LoRA"
        )
    rank_pattern = config.get("rank_pattern") or {}
    rank = max([int(config["r"]), *(int(r) for r in rank_pattern.values())])
    targets = config.get("target_modules") or ()
    return Module(
        name=name,
        path=directory,
        rank=rank,
        alpha=float(config.get("lora_alpha", rank)),
        target_modules=(targets,) if isinstance(targets, str) else tuple(sorted(targets)),
    )


def parse_weights(text: str, count: int) -> tuple[float, ...]:
    """``"1,0.5"`` as weights, one per module; raises :class:`MergeError`."""
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise MergeError(
            f"--weights {text!r}: give numbers separated by commas, like 1,1"
        ) from None
    if len(weights) != count:
        raise MergeError(f"--weights {text!r} gives {len(weights)} weight(s) for {count} module(s)")
    return weights


def check_plan(
    modules: Sequence[Module],
    method: str,
    weights: Sequence[float],
    density: float | None,
    svd_rank: int | None = None,
) -> None:
    """Refuse a combination PEFT would refuse (or silently mis-handle), saying what to do."""
    if method not in METHODS:
        raise MergeError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    if not modules:
        raise MergeError("no modules to combine: give at least one --adapter NAME=PATH")
    names = [m.name for m in modules]
    if len(set(names)) != len(names):
        raise MergeError(f"module names must differ, got {', '.join(names)}")
    if COMBINED in names:
        raise MergeError(f"{COMBINED!r} is reserved for the combined module; rename that module")
    if len(weights) != len(modules):
        raise MergeError(f"{len(weights)} weight(s) for {len(modules)} module(s)")
    if method in SAME_RANK and len({m.rank for m in modules}) > 1:
        ranks = ", ".join(f"{m.name} r={m.rank}" for m in modules)
        raise MergeError(
            f"{method} needs modules of the same LoRA rank, got {ranks}; use --method svd "
            "(factored back to one rank) or cat (exact, at the sum of the ranks), or retrain "
            "one module at the other's rank"
        )
    if method in NEED_DENSITY:
        if density is None:
            raise MergeError(
                f"{method} prunes each module's update: give --density D, the fraction of "
                "values kept (0 < D <= 1; 1 keeps all and only elects signs)"
            )
        if not 0 < density <= 1:
            raise MergeError(f"--density must be in (0, 1], got {density}")
    elif density is not None:
        raise MergeError(
            f"{method} does not prune, so it takes no --density (ties and dare_ties do)"
            + ("; svd takes --svd-rank, the rank of the result" if method == "svd" else "")
        )
    if svd_rank is not None and method != "svd":
        raise MergeError("--svd-rank applies to --method svd only")
    if svd_rank is not None and svd_rank < 1:
        raise MergeError(f"--svd-rank must be at least 1, got {svd_rank}")


def _torch_dtype(name: str) -> Any:
    import torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise MergeError(f"unknown dtype {name!r}; one of {', '.join(dtypes)}")
    return dtypes[name]


def _check_inputs(base: Path) -> list[Any]:
    """Token ids of :data:`CHECK_PROMPTS` with the base's tokenizer (fixed ids without one)."""
    import torch

    try:
        from transformers import AutoTokenizer

        tokenizer: Any = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError):
        # A base without a tokenizer still gets checked, on arbitrary ids.
        generator = torch.Generator().manual_seed(0)
        return [torch.randint(0, 100, (1, 24), generator=generator) for _ in CHECK_PROMPTS]
    return [tokenizer(text, return_tensors="pt")["input_ids"] for text in CHECK_PROMPTS]


def _logits(model: Any, inputs: Sequence[Any]) -> list[Any]:
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        return [model(input_ids=ids.to(device)).logits.float().cpu() for ids in inputs]


def _max_diff(first: Sequence[Any], second: Sequence[Any]) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(first, second, strict=True))


def merge_adapters(
    base: str | Path,
    modules: Sequence[tuple[str, str | Path]],
    method: str,
    weights: Sequence[float],
    out_dir: str | Path,
    density: float | None = None,
    full: bool = False,
    svd_rank: int | None = None,
    dtype: str = "float32",
    tolerance: float | None = None,
    seed: int = 0,
    on_step: Step | None = None,
) -> MergeResult:
    """Combine ``modules`` (name, adapter directory) over ``base`` and save the result in ``out_dir``.

    Saves the combined adapter (PEFT format), or with ``full`` the base with it merged in
    plus the base's tokenizer, and ``merge_report.json``. Reloads what it saved and compares
    its logits on :data:`CHECK_PROMPTS` with the combined adapter's in memory; raises
    :class:`MergeCheckFailed` above ``tolerance`` (default per ``dtype``:
    :data:`DEFAULT_TOLERANCE`) and :class:`MergeError` for a combination that cannot work.
    """
    step = on_step or (lambda _: None)
    read = [read_module(name, path) for name, path in modules]
    check_plan(read, method, weights, density, svd_rank)

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch_dtype = _torch_dtype(dtype)
    limit = DEFAULT_TOLERANCE[dtype] if tolerance is None else tolerance
    base_dir = Path(base)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise MergeError(f"{out} exists and is not empty; choose a new --out directory")
    notes: list[str] = []
    if len({m.target_modules for m in read}) > 1:
        notes.append("the modules adapt different layers; the combination covers all of them")

    step(f"loading the base model {base_dir}")
    inputs = _check_inputs(base_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch_dtype)
    bare = _logits(model, inputs)
    step(f"loading {len(read)} module(s): {', '.join(m.name for m in read)}")
    peft_model: Any = PeftModel.from_pretrained(model, read[0].path, adapter_name=read[0].name)
    for module in read[1:]:
        peft_model.load_adapter(module.path, adapter_name=module.name)

    step(f"combining with {method}")
    torch.manual_seed(seed)  # dare_ties drops values at random
    options: dict[str, Any] = {}
    if density is not None:
        options["density"] = density
    if svd_rank is not None:
        options["svd_rank"] = svd_rank
    try:
        peft_model.add_weighted_adapter(
            adapters=[m.name for m in read],
            weights=list(weights),
            adapter_name=COMBINED,
            combination_type=method,
            **options,
        )
        if method != "cat":
            peft_model.add_weighted_adapter(
                adapters=[m.name for m in read],
                weights=list(weights),
                adapter_name=EXACT,
                combination_type="cat",
            )
    except (ValueError, TypeError) as exc:
        raise MergeError(f"PEFT refused to combine the modules with {method}: {exc}") from exc
    peft_model.set_adapter(COMBINED)
    reference = _logits(peft_model, inputs)
    from_exact = 0.0
    if method != "cat":
        peft_model.set_adapter(EXACT)
        from_exact = _max_diff(_logits(peft_model, inputs), reference)
        peft_model.set_adapter(COMBINED)
        peft_model.delete_adapter(EXACT)
    for module in read:
        peft_model.delete_adapter(module.name)
    rank = int(peft_model.peft_config[COMBINED].r)
    changed = _max_diff(reference, bare)
    if changed == 0.0:
        notes.append("the combined module leaves the base's outputs unchanged (all-zero updates?)")

    out.mkdir(parents=True, exist_ok=True)
    if full:
        step("merging into the base weights")
        merged = peft_model.merge_and_unload()
        step(f"saving the merged model to {out}")
        merged.save_pretrained(out)
        _save_tokenizer(base_dir, out, notes)
    else:
        step(f"saving the combined adapter to {out}")
        peft_model.save_pretrained(out)
    del peft_model, model

    step("reloading the result to check it")
    reloaded: Any = AutoModelForCausalLM.from_pretrained(
        out if full else base_dir, dtype=torch_dtype
    )
    if not full:
        reloaded = PeftModel.from_pretrained(reloaded, out)
    difference = _max_diff(_logits(reloaded, inputs), reference)
    result = MergeResult(
        out_dir=str(out),
        method=method,
        weights=tuple(weights),
        density=density,
        modules={m.name: str(m.path) for m in read},
        ranks={m.name: m.rank for m in read},
        rank=rank,
        full=full,
        max_abs_diff=difference,
        tolerance=limit,
        prompts=len(inputs),
        changed_base=changed,
        from_exact=from_exact,
        notes=notes,
    )
    (out / "merge_report.json").write_text(
        json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    if not difference <= limit:
        raise MergeCheckFailed(
            f"the saved {'model' if full else 'adapter'} in {out} does not reproduce the "
            f"combined module: logits differ by up to {difference:.3g} (tolerance {limit:g}) "
            f"on {len(inputs)} prompts; do not serve it"
        )
    return result


def _save_tokenizer(base: Path, out: Path, notes: list[str]) -> None:
    """Copy the base's tokenizer beside the merged weights (a server loads both from one place)."""
    try:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(base).save_pretrained(out)
    except (OSError, ValueError) as exc:
        notes.append(f"the base has no loadable tokenizer ({exc}); add one before serving")
