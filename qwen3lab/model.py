"""Loading the model for the active profile, reading its structure, and finding where LoRA can go.

Every number these functions report is read from the modules themselves (shapes of weights,
lengths of module lists), never from a table typed in here, so the same calls describe the tiny
model, the real Qwen3-8B, and the 8B's empty skeleton built on the ``meta`` device. Parameter
counts are the logical ones (``in_features x out_features`` for a linear layer), so a 4-bit layer,
whose packed storage holds two weights per byte, counts the same as its 16-bit original.

Introduced in 01_model_inspection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collections.abc import Mapping

from .config import Config
from .tiny import QWEN3_8B, build_tiny_model

if TYPE_CHECKING:
    import pandas as pd
    import torch

#: What each of Qwen3's 26 added tokens (ids 151643-151668) is for. Roles are knowledge, not
#: numbers: the ids and the text of each token are read from the tokenizer.
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



# -- loading -------------------------------------------------------------------------------------


def model_name_or_path(cfg: Config) -> str:
    """What ``FastLanguageModel.from_pretrained(model_name=...)`` reads: ``cfg.model_name`` (a Hub id
    or a folder), or for the tiny profile the folder of the tiny Qwen3, built once under the
    artifacts root (``tiny.build_tiny_model``). Checks the machine first (a CUDA GPU where the
    profile needs one, the model in the cache or the Hub in reach) and fails with what to do.

    Introduced in 01_model_inspection.
    """
    from .machine import check_environment

    check_environment(cfg)
    return str(build_tiny_model(cfg)) if cfg.uses_tiny_model else cfg.model_name


def qwen3_8b_skeleton():
    """Qwen3-8B's architecture with no weights: every module and shape, on the ``meta`` device.

    Built in a fraction of a second from the 8B's ``config.json`` values (``tiny.QWEN3_8B``), with
    no download and no memory, so the tiny profile can set its own numbers beside the real ones.
    Introduced in 01_model_inspection.
    """
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    facts = {k: v for k, v in QWEN3_8B.items() if k != "rope_theta"}
    config = Qwen3Config(**facts, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "default", "rope_theta": QWEN3_8B["rope_theta"]})
    with torch.device("meta"):
        return Qwen3ForCausalLM(config)


# -- structure -------------------------------------------------------------------------------------


def decoder_layers(model) -> "torch.nn.ModuleList":
    """The list of decoder layers of a (possibly PEFT-wrapped) causal LM. Introduced in 01_model_inspection."""
    import torch

    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "layers" and isinstance(module, torch.nn.ModuleList):
            return module
    raise ValueError(f"{type(model).__name__} has no `layers` module list: is it a decoder-only causal LM?")


def _is_linear(module) -> bool:
    """A plain, 4-bit or 8-bit linear layer (bitsandbytes' classes subclass ``nn.Linear``)."""
    import torch

    return isinstance(module, torch.nn.Linear)


def own_parameters(module) -> int:
    """Parameters of ``module`` itself (not its children), counted logically.

    A 4-bit ``Linear4bit`` stores its weight packed two to a byte, so ``weight.numel()`` is half the
    real count; ``in_features * out_features`` is right for every linear layer.
    Introduced in 01_model_inspection.
    """
    if _is_linear(module):
        bias = module.bias.numel() if module.bias is not None else 0
        return module.in_features * module.out_features + bias
    return sum(p.numel() for p in module.parameters(recurse=False))


def _shape(module) -> str:
    import torch

    if _is_linear(module):
        return f"{module.in_features} → {module.out_features}"
    if isinstance(module, torch.nn.Embedding):
        return f"{module.num_embeddings} × {module.embedding_dim}"
    weight = getattr(module, "weight", None)
    return " × ".join(str(d) for d in weight.shape) if weight is not None else ""


def _group(name: str) -> str:
    """The module type a parameter-owning module belongs to: its short name (``q_proj``), with
    PEFT's wrappers folded in (``q_proj.base_layer`` -> ``q_proj``, ``q_proj.lora_A.default`` -> ``lora_A``)."""
    parts = name.split(".")
    lora = [p for p in parts if p.startswith("lora_")]
    if lora:
        return lora[0]
    if parts[-1] == "base_layer" and len(parts) > 1:
        return parts[-2]
    return parts[-1]


def _leaf_modules(model):
    """(name, module) for every module without children."""
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            yield name, module


def _counted_modules(model):
    """(name, module, parameters) for every leaf that owns parameters; a weight shared by two
    modules (a tied LM head and embedding) is counted at its first owner only."""
    seen: set[int] = set()
    for name, module in _leaf_modules(model):
        ids = {id(p) for p in module.parameters(recurse=False)}
        if ids and not ids <= seen:
            seen |= ids
            yield name, module, own_parameters(module)


def parameter_table(model) -> "pd.DataFrame":
    """Parameters per module type (``embed_tokens``, ``q_proj``, ..., ``lm_head``), with a total row.

    Columns: ``modules`` (how many such modules), ``params`` (their parameters together, counted
    logically, see ``own_parameters``), ``share`` (percent of the total). Introduced in 01_model_inspection.
    """
    import pandas as pd

    counts: dict[str, list[int]] = {}
    for name, _, params in _counted_modules(model):
        if params:
            entry = counts.setdefault(_group(name), [0, 0])
            entry[0] += 1
            entry[1] += params
    total = sum(params for _, params in counts.values())
    table = pd.DataFrame([{"module": k, "modules": n, "params": p, "share": round(100 * p / total, 2)}
                          for k, (n, p) in counts.items()])
    total_row = pd.DataFrame([{"module": "total", "modules": int(table["modules"].sum()), "params": total,
                               "share": 100.0}])
    return pd.concat([table, total_row], ignore_index=True).set_index("module")


def count_parameters(model) -> int:
    """All parameters of ``model``, counted logically (4-bit layers at full count, tied weights once).

    Introduced in 01_model_inspection.
    """
    return sum(params for _, _, params in _counted_modules(model))


def architecture_facts(model) -> dict[str, int | bool]:
    """Qwen3's defining numbers, measured from the modules (names as in ``config.json``).

    The head size comes from ``q_norm`` (it normalizes each head), the head counts from the
    projections' output widths divided by it. Introduced in 01_model_inspection.
    """
    embed = model.get_input_embeddings()
    layers = decoder_layers(model)
    attn, mlp = layers[0].self_attn, layers[0].mlp
    head_dim = attn.q_norm.weight.shape[0]
    heads, kv_heads = attn.q_proj.out_features // head_dim, attn.k_proj.out_features // head_dim
    return {
        "vocab_size": embed.num_embeddings,
        "hidden_size": embed.embedding_dim,
        "padding_idx": embed.padding_idx,
        "num_hidden_layers": len(layers),
        "head_dim": head_dim,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "queries_per_kv_head": heads // kv_heads,
        "intermediate_size": mlp.gate_proj.out_features,
        "tie_word_embeddings": model.get_output_embeddings().weight is embed.weight,
        "parameters": count_parameters(model),
    }


def architecture_table(**models) -> "pd.DataFrame":
    """``architecture_facts`` of several models side by side, and whether they agree.

    ``architecture_table(tiny=model, qwen3_8b=qwen3_8b_skeleton())``. Introduced in 01_model_inspection.
    """
    import pandas as pd

    table = pd.DataFrame({name: architecture_facts(m) for name, m in models.items()}, dtype=object)
    table["same"] = table.nunique(axis=1) == 1
    return table


# -- LoRA targets ----------------------------------------------------------------------------------


def _lora_target_layers(model) -> dict[str, Any]:
    """short name -> the first module of that name among the decoder layers' linear layers."""
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
    """Sorted short names of the linear layers inside the decoder layers (where LoRA goes).

    Found from the model, not typed in: every ``nn.Linear`` (bitsandbytes' ``Linear4bit`` and
    ``Linear8bitLt`` are subclasses) below a decoder layer, and layers PEFT has already wrapped.
    The embedding and the LM head sit outside the layers and are not included.
    Introduced in 01_model_inspection.
    """
    return sorted(_lora_target_layers(model))


def lora_targets_table(model, r: int) -> "pd.DataFrame":
    """The LoRA target layers with their type, shape, count and the parameters LoRA adds at rank ``r``.

    A LoRA adapter on a layer ``in → out`` adds ``A`` (``r × in``) and ``B`` (``out × r``):
    ``r * (in + out)`` trainable parameters, against ``in * out`` frozen ones.
    Introduced in 01_model_inspection.
    """
    import pandas as pd

    repeats = len(decoder_layers(model))
    rows = []
    for name, module in sorted(_lora_target_layers(model).items()):
        base = getattr(module, "base_layer", module)
        rows.append({"module": name, "type": type(base).__name__, "shape": _shape(base), "modules": repeats,
                     "params": own_parameters(base) * repeats,
                     "lora_params": r * (base.in_features + base.out_features) * repeats})
    return pd.DataFrame(rows).set_index("module")


# -- tokenizer -------------------------------------------------------------------------------------


def tokenizer_facts(tokenizer) -> dict[str, Any]:
    """The tokenizer's sizes, special tokens and the settings its ``repr`` shows that do not
    depend on the loader.

    Left out: ``model_max_length`` (Unsloth sets it to ``max_seq_length``; the source's printed
    tokenizer shows 40960, Qwen3's context length, from the tokenizer's config file) and
    ``padding_side`` (Unsloth pads on the left on a GPU and on the right on its CPU backend).
    Introduced in 01_model_inspection.
    """
    return {
        "class": type(tokenizer).__name__,
        "is_fast": tokenizer.is_fast,
        "vocab_size": tokenizer.vocab_size,
        "len(tokenizer)": len(tokenizer),
        "added_tokens": len(tokenizer.added_tokens_decoder),
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token": tokenizer.pad_token,
        "pad_token_id": tokenizer.pad_token_id,
        "unk_token": tokenizer.unk_token,
        "truncation_side": tokenizer.truncation_side,
        "has_chat_template": bool(tokenizer.chat_template),
    }


def added_tokens_table(tokenizer) -> "pd.DataFrame":
    """The tokens added after the byte-level vocabulary, by id, with what each is for.

    Columns: ``token``; ``special`` (True: ``decode(..., skip_special_tokens=True)`` drops it);
    ``use`` (eos / pad / bos / unk, where this tokenizer uses it so); ``role`` (``TOKEN_ROLES``).
    Introduced in 01_model_inspection.
    """
    import pandas as pd

    uses = {"eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id,
            "unk": tokenizer.unk_token_id}
    rows = []
    for token_id, token in sorted(tokenizer.added_tokens_decoder.items()):
        rows.append({"id": token_id, "token": token.content, "special": token.special,
                     "use": ",".join(name for name, i in uses.items() if i == token_id),
                     "role": TOKEN_ROLES.get(token.content, "(not described here)")})
    return pd.DataFrame(rows).set_index("id")



# -- LoRA's parameter count ---------------------------------------------------------------------------

#: Which input and output size each Qwen3 projection has, as names of config fields.
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

    Introduced in 05_lora_training.
    """
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

    ``A`` is ``r x in`` and ``B`` is ``out x r``. For Qwen3-8B at r=32 on all seven projections this
    is 87,293,952 (about 175 MB in bf16). Introduced in 05_lora_training.
    """
    shapes = projection_shapes(model_config)
    unknown = sorted(set(target_modules) - set(shapes))
    if unknown:
        raise KeyError(f"no shape known for {unknown}; known projections: {sorted(shapes)}")
    per_layer = sum(r * sum(shapes[name]) for name in target_modules)
    return per_layer * _field(model_config, "num_hidden_layers")


__all__ = ["TOKEN_ROLES", "added_tokens_table", "architecture_facts", "architecture_table", "count_parameters",
           "decoder_layers", "expected_lora_parameters", "lora_target_modules", "projection_shapes", "lora_targets_table", "model_name_or_path",
           "own_parameters", "parameter_table", "qwen3_8b_skeleton", "tokenizer_facts"]
