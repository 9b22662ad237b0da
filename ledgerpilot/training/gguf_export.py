"""Writing a Qwen2 transformers model directory as a GGUF file for llama.cpp.

llama.cpp's own converter lives in its source tree, not in any installed package, so the
test suite writes the tiny model's GGUF itself with the ``gguf`` package: the Qwen2
hyper-parameters, the byte-level BPE vocabulary and merges with Qwen's pre-tokenizer, the
chat template and special tokens, and every weight in float32 under llama.cpp's tensor
names. Enough for llama.cpp's server (``llama-cpp-python[server]``) to serve the model
with grammar-constrained JSON-schema output; real 7B models are converted with
llama.cpp's ``convert_hf_to_gguf.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _vocabulary(model_dir: Path) -> tuple[list[str], list[int], list[str], dict[str, Any]]:
    """Tokens in id order, their GGUF token types, the BPE merges, and tokenizer.json."""
    import gguf

    data = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = data["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"only byte-level BPE tokenizers are exported, not {model.get('type')}")
    vocab: dict[str, int] = dict(model["vocab"])
    special = {t["content"] for t in data.get("added_tokens", []) if t.get("special")}
    for token in data.get("added_tokens", []):
        vocab.setdefault(token["content"], token["id"])
    by_id = {i: t for t, i in vocab.items()}
    size = max(by_id) + 1
    tokens, types = [], []
    for i in range(size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, [int(t) for t in types], merges, data


def export_gguf(model_dir: str | Path, out_path: str | Path) -> Path:
    """Write the Qwen2 model in ``model_dir`` as a float32 GGUF file at ``out_path``.

    Raises ``ValueError`` for another architecture or tokenizer type.
    """
    import gguf
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = Path(model_dir)
    out = Path(out_path)
    config = AutoConfig.from_pretrained(src)
    if config.model_type != "qwen2":
        raise ValueError(f"only Qwen2 models are exported, not {config.model_type}")
    tokenizer = AutoTokenizer.from_pretrained(src)
    tokens, types, merges, _ = _vocabulary(src)
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2])
    writer.add_name(src.name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 1e4))))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")  # our pre-tokenizer is Qwen2's pattern
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_bos_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, config.num_hidden_layers)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # llama.cpp reuses the token embeddings
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"no GGUF name for tensor {name}")
        writer.add_tensor(gguf_name, tensor.detach().float().contiguous().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
