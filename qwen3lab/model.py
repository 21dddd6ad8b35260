"""Loading the model for the active profile, reading its structure, and finding where LoRA can go.

Every number is read from the modules themselves, so the same calls describe the tiny model, the
real Qwen3-8B and its weightless ``meta`` skeleton. Parameter counts are logical (``in x out`` for a
linear layer), so a packed 4-bit layer counts the same as its 16-bit original.

Introduced in 01_model_inspection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import Config
from .tiny import QWEN3_8B, build_tiny_model

if TYPE_CHECKING:
    import pandas as pd
    import torch

#: What each of Qwen3's added tokens is for (their ids and text are read from the tokenizer).
TOKEN_ROLES: dict[str, str] = {
    "<|endoftext|>": "end of a document in pre-training; also stops generation (generation_config)",
    "<|im_start|>": "opens a chat turn; the role name follows",
    "<|im_end|>": "closes a chat turn; the end-of-reply token in chat",
    "<|object_ref_start|>": "vision (Qwen-VL): start of a referred object's text",
    "<|object_ref_end|>": "vision (Qwen-VL): end of a referred object's text",
    "<|box_start|>": "vision (Qwen-VL): start of bounding-box coordinates",
    "<|box_end|>": "vision (Qwen-VL): end of bounding-box coordinates",
    "<|quad_start|>": "vision (Qwen-VL): start of quadrilateral coordinates",
    "<|quad_end|>": "vision (Qwen-VL): end of quadrilateral coordinates",
    "<|vision_start|>": "vision (Qwen-VL): opens an image or video",
    "<|vision_end|>": "vision (Qwen-VL): closes an image or video",
    "<|vision_pad|>": "vision padding; Unsloth's Qwen3 uses it as the pad token",
    "<|image_pad|>": "vision (Qwen-VL): placeholder for image patches",
    "<|video_pad|>": "vision (Qwen-VL): placeholder for video frames",
    "<tool_call>": "opens a function call the model writes (JSON inside)",
    "</tool_call>": "closes a function call",
    "<|fim_prefix|>": "code fill-in-the-middle: the code before the gap",
    "<|fim_middle|>": "code fill-in-the-middle: the gap to fill",
    "<|fim_suffix|>": "code fill-in-the-middle: the code after the gap",
    "<|fim_pad|>": "code fill-in-the-middle: padding",
    "<|repo_name|>": "repository-level code: the repository's name",
    "<|file_sep|>": "repository-level code: starts the next file",
    "<tool_response>": "opens a tool's result, sent back in a user turn",
    "</tool_response>": "closes a tool's result",
    "<think>": "opens the reasoning of thinking mode",
    "</think>": "closes the reasoning; the answer follows",
}


def model_name_or_path(cfg: Config) -> str:
    """What ``FastLanguageModel.from_pretrained(model_name=...)`` reads: ``cfg.model_name``, or the
    tiny Qwen3's folder (built once) for the tiny profile. Checks the machine first and fails with
    what to do. Introduced in 01_model_inspection."""
    from .machine import check_environment

    check_environment(cfg)
    return str(build_tiny_model(cfg)) if cfg.uses_tiny_model else cfg.model_name


def qwen3_8b_skeleton():
    """Qwen3-8B's modules and shapes on the ``meta`` device, from ``tiny.QWEN3_8B``: no download, no
    memory. Introduced in 01_model_inspection."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    facts = {k: v for k, v in QWEN3_8B.items() if k != "rope_theta"}
    config = Qwen3Config(**facts, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "default", "rope_theta": QWEN3_8B["rope_theta"]})
    with torch.device("meta"):
        return Qwen3ForCausalLM(config)


def decoder_layers(model) -> "torch.nn.ModuleList":
    """The decoder layers of a (possibly PEFT-wrapped) causal LM. Introduced in 01_model_inspection."""
    import torch

    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "layers" and isinstance(module, torch.nn.ModuleList):
            return module
    raise ValueError(f"{type(model).__name__} has no `layers` module list: is it a decoder-only causal LM?")


def _is_linear(module) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear)  # bitsandbytes' 4-bit and 8-bit layers subclass it


def own_parameters(module) -> int:
    """Parameters of ``module`` itself (not its children), counted logically: a packed ``Linear4bit``
    weight's ``numel()`` is half the real count. Introduced in 01_model_inspection."""
    if _is_linear(module):
        bias = module.bias.numel() if module.bias is not None else 0
        return module.in_features * module.out_features + bias
    return sum(p.numel() for p in module.parameters(recurse=False))


def _group(name: str) -> str:
    """A module's short name with PEFT's wrappers folded in (``q_proj.base_layer`` -> ``q_proj``,
    ``q_proj.lora_A.default`` -> ``lora_A``)."""
    parts = name.split(".")
    lora = [p for p in parts if p.startswith("lora_")]
    if lora:
        return lora[0]
    return parts[-2] if parts[-1] == "base_layer" and len(parts) > 1 else parts[-1]


def _counted_modules(model):
    """(name, parameters) for every leaf module that owns parameters; a shared (tied) weight
    is counted at its first owner only."""
    seen: set[int] = set()
    for name, module in model.named_modules():
        ids = {id(p) for p in module.parameters(recurse=False)}
        if next(module.children(), None) is None and ids and not ids <= seen:
            seen |= ids
            yield name, own_parameters(module)


def parameter_table(model) -> "pd.DataFrame":
    """Parameters per module type (``embed_tokens``, ``q_proj``, ..., ``lm_head``) with a total row:
    ``modules``, ``params`` (logical count) and ``share`` (percent). Introduced in 01_model_inspection."""
    import pandas as pd

    groups: dict[str, list[int]] = {}
    for name, params in _counted_modules(model):
        if params:
            groups.setdefault(_group(name), []).append(params)
    total = sum(map(sum, groups.values()))
    rows = [{"module": k, "modules": len(v), "params": sum(v), "share": round(100 * sum(v) / total, 2)}
            for k, v in groups.items()]
    rows.append({"module": "total", "modules": sum(map(len, groups.values())), "params": total,
                 "share": 100.0})
    return pd.DataFrame(rows).set_index("module")


def count_parameters(model) -> int:
    """All parameters, counted logically (4-bit layers in full, tied weights once).
    Introduced in 01_model_inspection."""
    return sum(params for _, params in _counted_modules(model))


def architecture_facts(model) -> dict[str, int | bool]:
    """Qwen3's defining numbers, measured from the modules (names as in ``config.json``): the head
    size from ``q_norm``, head counts from the projections' widths. Introduced in 01_model_inspection."""
    embed = model.get_input_embeddings()
    layers = decoder_layers(model)
    attn, mlp = layers[0].self_attn, layers[0].mlp
    head_dim = attn.q_norm.weight.shape[0]
    heads, kv_heads = attn.q_proj.out_features // head_dim, attn.k_proj.out_features // head_dim
    return {"vocab_size": embed.num_embeddings, "hidden_size": embed.embedding_dim,
            "padding_idx": embed.padding_idx, "num_hidden_layers": len(layers), "head_dim": head_dim,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "queries_per_kv_head": heads // kv_heads,
            "intermediate_size": mlp.gate_proj.out_features,
            "tie_word_embeddings": model.get_output_embeddings().weight is embed.weight,
            "parameters": count_parameters(model)}


def architecture_table(**models) -> "pd.DataFrame":
    """``architecture_facts`` of several models side by side, and whether they agree:
    ``architecture_table(tiny=model, qwen3_8b=qwen3_8b_skeleton())``. Introduced in 01_model_inspection."""
    import pandas as pd

    table = pd.DataFrame({name: architecture_facts(m) for name, m in models.items()}, dtype=object)
    table["same"] = table.nunique(axis=1) == 1
    return table


def _lora_target_layers(model) -> dict[str, Any]:
    """short name -> the first linear layer of that name inside the decoder layers."""
    found: dict[str, Any] = {}
    for layer in decoder_layers(model):
        for name, module in layer.named_modules():
            parts = name.split(".")
            if not name or any(p == "base_layer" or p.startswith("lora_") for p in parts):
                continue  # PEFT's own sub-modules once adapters are attached
            if _is_linear(module) or hasattr(module, "base_layer"):  # a layer PEFT already wrapped
                found.setdefault(parts[-1], module)
    return found


def lora_target_modules(model) -> list[str]:
    """Sorted short names of the linear layers inside the decoder layers (where LoRA goes), found from
    the model; the embedding and LM head sit outside the layers. Introduced in 01_model_inspection."""
    return sorted(_lora_target_layers(model))


def lora_targets_table(model, r: int) -> "pd.DataFrame":
    """The LoRA target layers with type, shape, count, and the parameters LoRA adds at rank ``r``:
    ``A`` (``r × in``) and ``B`` (``out × r``). Introduced in 01_model_inspection."""
    import pandas as pd

    repeats = len(decoder_layers(model))
    rows = []
    for name, module in sorted(_lora_target_layers(model).items()):
        base = getattr(module, "base_layer", module)
        rows.append({"module": name, "type": type(base).__name__,
                     "shape": f"{base.in_features} → {base.out_features}", "modules": repeats,
                     "params": own_parameters(base) * repeats,
                     "lora_params": r * (base.in_features + base.out_features) * repeats})
    return pd.DataFrame(rows).set_index("module")


def tokenizer_facts(tokenizer) -> dict[str, Any]:
    """The tokenizer's sizes, special tokens and the settings its ``repr`` shows that do not depend on
    the loader (so not ``model_max_length`` or ``padding_side``, which Unsloth sets).
    Introduced in 01_model_inspection."""
    return {"class": type(tokenizer).__name__, "is_fast": tokenizer.is_fast,
            "vocab_size": tokenizer.vocab_size, "len(tokenizer)": len(tokenizer),
            "added_tokens": len(tokenizer.added_tokens_decoder), "bos_token": tokenizer.bos_token,
            "eos_token": tokenizer.eos_token,
            "eos_token_id": tokenizer.eos_token_id, "pad_token": tokenizer.pad_token,
            "pad_token_id": tokenizer.pad_token_id, "unk_token": tokenizer.unk_token,
            "truncation_side": tokenizer.truncation_side, "has_chat_template": bool(tokenizer.chat_template)}


def added_tokens_table(tokenizer) -> "pd.DataFrame":
    """The tokens added after the byte-level vocabulary, by id: ``token``, ``special`` (dropped by
    ``skip_special_tokens``), ``use`` (eos/pad/bos/unk) and ``role`` (``TOKEN_ROLES``).
    Introduced in 01_model_inspection."""
    import pandas as pd

    uses = {"eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id,
            "unk": tokenizer.unk_token_id}
    rows = [{"id": token_id, "token": token.content, "special": token.special,
             "use": ",".join(name for name, i in uses.items() if i == token_id),
             "role": TOKEN_ROLES.get(token.content, "(not described here)")}
            for token_id, token in sorted(tokenizer.added_tokens_decoder.items())]
    return pd.DataFrame(rows).set_index("id")


#: Each Qwen3 projection's (input, output) size, as names of config fields.
_PROJECTIONS = {
    "q_proj": ("hidden_size", "q_width"), "k_proj": ("hidden_size", "kv_width"),
    "v_proj": ("hidden_size", "kv_width"), "o_proj": ("q_width", "hidden_size"),
    "gate_proj": ("hidden_size", "intermediate_size"), "up_proj": ("hidden_size", "intermediate_size"),
    "down_proj": ("intermediate_size", "hidden_size"),
}


def _field(config: Any, name: str) -> int:
    value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
    if value is None:
        raise KeyError(f"the model config has no {name!r}")
    return int(value)


def projection_shapes(model_config: Any) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of each Qwen3 projection, from a config object or dict.
    Introduced in 05_lora_training."""
    heads, kv_heads = _field(model_config, "num_attention_heads"), _field(model_config, "num_key_value_heads")
    try:
        head_dim = _field(model_config, "head_dim")
    except KeyError:
        head_dim = _field(model_config, "hidden_size") // heads
    sizes = {"hidden_size": _field(model_config, "hidden_size"),
             "intermediate_size": _field(model_config, "intermediate_size"),
             "q_width": heads * head_dim, "kv_width": kv_heads * head_dim}
    return {name: (sizes[i], sizes[o]) for name, (i, o) in _PROJECTIONS.items()}


def expected_lora_parameters(model_config: Any, r: int, target_modules: list[str]) -> int:
    """LoRA's trainable parameters by the formula: per layer, ``r * (in + out)`` for each target.
    Introduced in 05_lora_training."""
    shapes = projection_shapes(model_config)
    unknown = sorted(set(target_modules) - set(shapes))
    if unknown:
        raise KeyError(f"no shape known for {unknown}; known projections: {sorted(shapes)}")
    per_layer = sum(r * sum(shapes[name]) for name in target_modules)
    return per_layer * _field(model_config, "num_hidden_layers")


__all__ = ["TOKEN_ROLES", "added_tokens_table", "architecture_facts", "architecture_table",
           "count_parameters", "decoder_layers", "expected_lora_parameters", "lora_target_modules",
           "lora_targets_table", "model_name_or_path", "own_parameters", "parameter_table",
           "projection_shapes", "qwen3_8b_skeleton", "tokenizer_facts"]
