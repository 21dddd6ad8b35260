"""``speed_up``: the one call between the source's ``SFTConfig(...)`` and ``SFTTrainer(...)``.

    speedup = fast.speed_up(model, args, cfg)   # model: after get_peft_model; args: the SFTConfig
    args = speedup.args                         # a copy with the fitted batch, or args itself
    speedup.table                               # every setting considered: source, fitted, why
    trainer = SFTTrainer(..., args=args, callbacks=speedup.callbacks)

With ``cfg.speed_layer`` off, or without a CUDA GPU, it changes nothing (``args`` as it came, no
callbacks) and the table says why. On a GPU it carries out ``recipe.fit_recipe``'s decision and
installs ``fused_lora`` and the two fixes of ``compile``. It must run exactly here: Unsloth's
patched ``SFTTrainer.__init__`` reads ``UNSLOTH_TOKEN_BUDGET`` once (``install_token_budget``) and
the gradient checkpointing mode, and the fused operators and ``compile_varlen_dynamic`` must be
in place before the first training step traces Unsloth's compiled layers.

Introduced in 05_lora_training.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from ..config import Config
from ..workarounds import set_gradient_checkpointing
from .compile import StandardStridesPerPass, compile_varlen_dynamic
from .recipe import (GIB, TOKEN_BUDGET_ENV, Recipe, dequantized_bytes, fit_recipe, free_gpu_bytes,
                     source_recipe, step_tokens)

if TYPE_CHECKING:
    import pandas as pd

#: The UNSLOTH_TOKEN_BUDGET value ``speed_up`` exported last, so that a later call can take it back
#: (an old budget would otherwise split the source recipe's batches when speed_layer is turned off).
_EXPORTED: list[str | None] = [None]


@dataclass(frozen=True, eq=False)  # eq would compare DataFrames
class Speedup:
    """What ``speed_up`` decided and did. ``args``: the ``SFTConfig`` to train with; ``callbacks``:
    for ``SFTTrainer(callbacks=...)``; ``table``: one row per setting considered, with the source's
    value, the fitted one and why; ``recipe``: ``fit_recipe``'s decision. Introduced in 05_lora_training."""

    args: Any
    table: "pd.DataFrame"
    callbacks: list = field(default_factory=list)
    recipe: Recipe | None = None


class KeepDequantized(TrainerCallback):
    """Keeps the model's frozen 4-bit weights dequantized (in FP8 with ``fp8``) from the start of
    ``trainer.train()`` to its end (``fused_lora.keep_dequantized``), so that generation and
    saving afterwards have that memory back. Introduced in 05_lora_training."""

    def __init__(self, fp8: bool = False):
        self.fp8 = fp8

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        from . import fused_lora

        fused_lora.keep_dequantized(model, fp8=self.fp8)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        from . import fused_lora

        fused_lora.release_dequantized(model)


def recorded_checkpointing(model, default: str | bool) -> str | bool:
    """The gradient checkpointing mode ``get_peft_model`` recorded on ``model`` (Unsloth's GPU
    loaders), or ``default`` where none is recorded. Introduced in 05_lora_training."""
    return getattr(model, "_unsloth_gradient_checkpointing", default)


def _take_back_budget() -> str | None:
    """Remove an UNSLOTH_TOKEN_BUDGET that an earlier ``speed_up`` exported; the value left (a user's own)."""
    if _EXPORTED[0] is not None and os.environ.get(TOKEN_BUDGET_ENV) == _EXPORTED[0]:
        del os.environ[TOKEN_BUDGET_ENV]
    _EXPORTED[0] = None
    return os.environ.get(TOKEN_BUDGET_ENV)


def _export_budget(budget: int | None) -> str | None:
    """Hand Unsloth the token budget (a user's own value stays where there is none to give)."""
    if budget:
        os.environ[TOKEN_BUDGET_ENV] = _EXPORTED[0] = str(budget)
    return os.environ.get(TOKEN_BUDGET_ENV)


def _frozen_row(cfg: Config, recipe: Recipe, model_config) -> tuple[str, Any, Any, str]:
    """The table's row for the frozen weights: kept dequantized while training, or why not."""
    if recipe.keep_dequantized:
        value = ("kept in FP8 while training, products in FP8" if recipe.fp8_frozen else
                 "kept in 16 bits while training")
        why = (f"{dequantized_bytes(cfg, model_config, recipe.fp8_frozen) / GIB:.1f} GiB out of the token "
               f"budget, which still holds a step of {recipe.step_size:,} tokens: no NF4 dequantize in each product")
        if cfg.fp8_frozen and not recipe.fp8_frozen:
            why += "; not FP8: this GPU has no FP8 tensor cores (compute capability below 8.9)"
        return "frozen weights", _PER_PRODUCT, value, why
    if not cfg.fused_lora or cfg.keep_dequantized is False:
        why = "cfg.fused_lora is off" if not cfg.fused_lora else "cfg.keep_dequantized is False (the default: opt-in)"
    elif not _fitted(recipe):
        why = recipe.reason
    elif not dequantized_bytes(cfg, model_config):
        why = "no 4-bit frozen weights of a known shape to keep"
    elif cfg.keep_dequantized is None and recipe.use_gradient_checkpointing is not False:
        why = "kept only without gradient checkpointing (the case measured)"
    else:
        why = ("the token budget left would not hold a full row" if cfg.keep_dequantized else
               f"the token budget left would not hold a step of {recipe.step_size:,} tokens")
    return "frozen weights", _PER_PRODUCT, _PER_PRODUCT, why


def _table(rows: list[tuple[str, Any, Any, str]]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(rows, columns=["setting", "source", "fitted", "why"]).set_index("setting")


_NOT_FUSED, _PER_PRODUCT = "PEFT's LoRA forward", "dequantized for each product"
_STATIC, _SLICES = "static (compiled as constants)", "slices of the step (its row stride)"


def _unchanged(args, mode, budget: str | None, why: str) -> list[tuple[str, Any, Any, str]]:
    same = [("per_device_train_batch_size", args.per_device_train_batch_size),
            ("gradient_accumulation_steps", args.gradient_accumulation_steps),
            ("padding_free", args.padding_free), ("use_gradient_checkpointing", mode),
            ("gradient_checkpointing", args.gradient_checkpointing), (TOKEN_BUDGET_ENV, budget),
            ("fused_lora", _NOT_FUSED), ("frozen weights", _PER_PRODUCT),
            ("varlen dynamic_sources", _STATIC), ("pass strides", _SLICES)]
    return [(name, value, value, why) for name, value in same]


def measured_step(dataset, tokenizer, args, cfg: Config, sample: int = 2048) -> int | None:
    """``recipe.step_tokens`` of ``dataset``: the token lengths of up to ``sample`` of its rows
    (its ``input_ids`` where it is tokenized, else its text field through ``tokenizer``), as steps
    of the ``SFTConfig``'s rows. None without a data set. Introduced in 05_lora_training."""
    if dataset is None:
        return None
    import numpy as np

    picked = dataset.select(np.random.default_rng(cfg.seed).permutation(len(dataset))[:sample].tolist())
    if "input_ids" in picked.column_names:
        lengths = [len(ids) for ids in picked["input_ids"]]
    else:
        if tokenizer is None:
            raise ValueError("fast.speed_up(dataset=...) of text rows needs tokenizer=... to count their tokens")
        field = getattr(args, "dataset_text_field", None) or "text"
        tokenize = getattr(tokenizer, "tokenizer", tokenizer)  # a processor's own tokenizer
        lengths = [len(ids) for ids in tokenize(list(picked[field]), add_special_tokens=False)["input_ids"]]
    rows = args.per_device_train_batch_size * args.gradient_accumulation_steps
    return step_tokens(lengths, rows, cfg.max_seq_length)


def speed_up(model, args, cfg: Config, *, dataset=None, tokenizer=None, free_bytes: int | None = None) -> Speedup:
    """Fit ``args`` (the source's ``SFTConfig``) and ``model`` (after ``get_peft_model``) to the GPU.

    ``free_bytes``: the free GPU memory to fit to; by default GPU 0's, measured now, or None without
    a GPU. Give a number to see what another card would get (the tests do so on a CPU). The rows
    per optimizer step (batch x accumulation) are kept. ``dataset`` (with its ``tokenizer``): the
    training set, whose measured step size (``measured_step``) decides whether the frozen weights
    are kept. Call it once per model, right before ``SFTTrainer(...)``. Introduced in 05_lora_training.
    """
    mode = recorded_checkpointing(model, cfg.use_gradient_checkpointing)
    source = cfg.replace(per_device_train_batch_size=args.per_device_train_batch_size,
                         gradient_accumulation_steps=args.gradient_accumulation_steps,
                         use_gradient_checkpointing=mode, padding_free=args.padding_free)
    if free_bytes is None and cfg.speed_layer:
        free_bytes = free_gpu_bytes()
        if free_bytes is not None:  # plus the LoRA weights: fit_recipe's constants were measured before them
            free_bytes += sum(p.numel() * p.element_size() for p in model.parameters()
                              if p.requires_grad and p.is_cuda)
    before = _take_back_budget()
    if not cfg.speed_layer or free_bytes is None:
        import torch

        off = [] if cfg.speed_layer else ["cfg.speed_layer is off"]
        if free_bytes is None and not torch.cuda.is_available():
            off.append("no CUDA GPU" if cfg.speed_layer else "there is no CUDA GPU")
        why = ", and ".join(off) + ": the source's value"
        return Speedup(args, _table(_unchanged(args, mode, before, why)), [], source_recipe(source, why))

    recipe = fit_recipe(source, free_bytes, getattr(model, "config", None),
                        measured_step(dataset, tokenizer, args, cfg))
    changes: dict[str, Any] = {}
    rows = _fit_batch(args, recipe, free_bytes, changes)
    rows += _fit_checkpointing(model, args, cfg, recipe, mode, changes)
    rows.append((TOKEN_BUDGET_ENV, before, _export_budget(recipe.token_budget),
                 f"Unsloth runs a larger step as passes of whole sequences of at most this many tokens, "
                 f"same loss (what {free_bytes / GIB:.1f} GiB hold)" if _fitted(recipe) else recipe.reason))
    callbacks: list = []
    rows += _fit_kernels(model, cfg, recipe, callbacks)
    new_args = args
    if changes:
        # a copy with attributes set, as Unsloth's configure_padding_free sets them: dataclasses.replace
        # would run Unsloth's SFTConfig.__init__ and every __post_init__ again
        new_args = copy.copy(args)
        for name, value in changes.items():
            setattr(new_args, name, value)
    return Speedup(new_args, _table(rows), callbacks, recipe)


def _fitted(recipe: Recipe) -> bool:
    """Whether ``fit_recipe`` found a recipe for the card (else it kept the source's: too little memory)."""
    return recipe.token_budget is not None


def _fit_batch(args, recipe: Recipe, free_bytes: int, changes: dict) -> list[tuple[str, Any, Any, str]]:
    """The table's rows for the SFTConfig's batch; the changes go into ``changes``."""
    step = args.per_device_train_batch_size * args.gradient_accumulation_steps
    rows = []
    for name, value, why in (
            ("per_device_train_batch_size", recipe.per_device_train_batch_size,
             f"{free_bytes / GIB:.1f} GiB free: all {step} rows of an optimizer step in one micro-batch"),
            ("gradient_accumulation_steps", recipe.gradient_accumulation_steps,
             "the same rows per optimizer step, so the same gradient, in one pass"),
            ("padding_free", recipe.padding_free,
             "rows concatenated without padding tokens; Unsloth's varlen attention keeps them apart")):
        source = getattr(args, name)
        if _fitted(recipe) and source != value:
            changes[name] = value
        rows.append((name, source, value, why) if _fitted(recipe) else (name, source, source, recipe.reason))
    return rows


def _fit_checkpointing(model, args, cfg: Config, recipe: Recipe, mode,
                       changes: dict) -> list[tuple[str, Any, Any, str]]:
    """Switch the model's checkpointing to the recipe's, and the SFTConfig's with it; the table's rows."""
    wanted = recipe.use_gradient_checkpointing
    effective = set_gradient_checkpointing(model, wanted) if wanted != mode else mode
    if not _fitted(recipe):
        why = recipe.reason
    elif effective is False:
        why = f"one {cfg.max_seq_length}-token row fits without it: activations kept, not recomputed"
    else:
        why = (f"one {cfg.max_seq_length}-token row fits only with it: Unsloth's, which offloads the saved "
               "layer inputs to CPU memory")
    if bool(args.gradient_checkpointing) != bool(effective):
        changes["gradient_checkpointing"] = bool(effective)
    return [("use_gradient_checkpointing", mode, effective, why),
            ("gradient_checkpointing", args.gradient_checkpointing, bool(effective),
             "agrees with the model's: Trainer.train turns checkpointing on when this is True")]


def _fit_kernels(model, cfg: Config, recipe: Recipe, callbacks: list) -> list[tuple[str, Any, Any, str]]:
    """Fused LoRA, the frozen weights kept while training, the compile fixes; the table's rows."""
    layers = 0
    if cfg.fused_lora:
        from . import fused_lora

        layers = fused_lora.install(model)
    rows = [("fused_lora", _NOT_FUSED, f"{layers} layer{'s' * (layers != 1)} as one operator" if layers else _NOT_FUSED,
             "the LoRA sum in the frozen product's epilogue: no copy of the output (fused_lora.py)" if layers
             else "cfg.fused_lora is off" if not cfg.fused_lora else "no eligible LoRA layer")]
    if recipe.keep_dequantized:
        callbacks.append(KeepDequantized(fp8=recipe.fp8_frozen))
    rows.append(_frozen_row(cfg, recipe, getattr(model, "config", None)))
    if recipe.padding_free:
        compile_varlen_dynamic()
        callbacks.append(StandardStridesPerPass())
        return rows + [("varlen dynamic_sources", _STATIC, "cu_seqlens and longest sequence dynamic",
                        "no recompile of every block when a pass's longest sequence changes"),
                       ("pass strides", _SLICES, "standard strides while training",
                        "no recompile at the first step split into passes")]
    return rows + [("varlen dynamic_sources", _STATIC, _STATIC, "padding-free passes only"),
                   ("pass strides", _SLICES, _SLICES, "padding-free passes only")]


__all__ = ["KeepDequantized", "Speedup", "measured_step", "recorded_checkpointing", "speed_up"]
