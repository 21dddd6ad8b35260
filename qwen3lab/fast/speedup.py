"""``speed_up``: the one call between the source's ``SFTConfig(...)`` and ``SFTTrainer(...)``.

    speedup = fast.speed_up(model, args, cfg)   # model: after get_peft_model; args: the SFTConfig
    args = speedup.args                         # a copy with the fitted batch, or args itself
    speedup.table                               # every setting considered: source, fitted, why
    trainer = SFTTrainer(..., args=args, callbacks=speedup.callbacks)

With ``cfg.speed_layer`` off, or without a CUDA GPU, it changes nothing (``args`` is returned as
it came, no callbacks) and the table says why. On a GPU it carries out ``recipe.fit_recipe``'s
decision: the rows of an optimizer step as one padding-free micro-batch, the token budget handed
to Unsloth, gradient checkpointing off where a full row fits without it (Unsloth's offloaded
checkpointing where it does not), ``fused_lora`` on the LoRA layers, the frozen weights kept
dequantized (in FP8) while training, and the two fixes of ``compile``.

Why it must run exactly here, between the two calls:

* ``UNSLOTH_TOKEN_BUDGET`` is read once, when ``SFTTrainer`` is built (Unsloth 2026.10.9:
  ``unsloth/trainer.py:2082`` calls ``install_token_budget`` at the end of the patched
  ``SFTTrainer.__init__``; ``unsloth/utils/token_budget.py:653`` reads the variable and the
  ``training_step`` wrapper keeps it). Set after the trainer exists, it has no effect on it.
* Gradient checkpointing is read by that ``__init__`` too and again by ``trainer.train()``, from
  the model and from ``args`` (``set_gradient_checkpointing``).
* The fused operators must be on the model, and ``compile_varlen_dynamic`` in torch's config,
  before the first training step traces Unsloth's compiled layers.

Introduced in 05_lora_training.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from ..config import Config
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
    try:
        return model._unsloth_gradient_checkpointing
    except AttributeError:
        return default


def set_gradient_checkpointing(model, mode: str | bool) -> str | bool:
    """Switch ``model``'s gradient checkpointing to ``mode`` after ``get_peft_model`` applied another;
    returns the mode in effect. The trainer's own ``gradient_checkpointing`` must then agree
    (``speed_up`` sets it on the ``SFTConfig``: see the last point).

    How Unsloth 2026.10.9 applies it (line numbers of the installed sources):

    * ``FastLanguageModel.get_peft_model`` (``unsloth/models/llama.py:4652``) calls
      ``apply_unsloth_gradient_checkpointing(mode, max_seq_length, dtype)``
      (``unsloth/models/_utils.py:502``), which installs Unsloth's offloading checkpoint function
      in ``torch.utils.checkpoint`` and transformers for ``"unsloth"`` and removes it for
      True/False; then ``patch_peft_model`` (``llama.py:5234``) records the mode as
      ``model._unsloth_gradient_checkpointing`` (``llama.py:5237``) and runs
      ``prepare_model_for_training`` (``llama.py:5276`` into ``unsloth_zoo/training_utils.py:328``),
      which arms the decoder layers for ``"unsloth"``/True (``training_utils.py:499``) and turns
      every module's ``gradient_checkpointing`` flag off for False.
    * ``FastModel.get_peft_model`` (``unsloth/models/vision.py:4910``) installs the checkpoint
      function at load instead (``FastModel.from_pretrained``, ``unsloth/models/loader.py:3030``,
      with its own ``use_gradient_checkpointing="unsloth"`` default), and its ``post_patch_model``
      runs the same ``prepare_model_for_training`` (which removes the function for True/False,
      ``training_utils.py:479``) and records ``model._unsloth_gradient_checkpointing``
      (``vision.py:5513``).
    * What training then uses is the recorded mode, not the flags: Unsloth's ``SFTTrainer.__init__``
      calls ``model.for_training(use_gradient_checkpointing=model._unsloth_gradient_checkpointing)``
      (``unsloth/models/rl.py:658``), and ``trainer.train()`` does so again before every run
      (``rl.py:536-543``). ``for_training`` (``llama.py:5521``, ``vision.py:5643``) sets each module's
      flag to that mode, and arms layers that were never armed (``arm_gradient_checkpointing``,
      ``_utils.py:11838``: ``model.gradient_checkpointing_enable()``).
    * ``SFTConfig.gradient_checkpointing`` (TRL's default: True) acts after that: ``Trainer.train``
      calls ``model.gradient_checkpointing_enable()`` when it is True
      (``transformers/trainer.py:1461``), which would turn checkpointing back on. Unsloth's trainer
      sets it to False for a model recorded False only when the config still holds TRL's default
      (``unsloth/models/_gc_config_default.py:75``, from ``rl.py:653``); a config rebuilt with
      ``dataclasses.replace`` counts as explicit and stays True. So the mode and the config are set
      together.

    So switching afterwards does what ``get_peft_model(..., use_gradient_checkpointing=mode)`` would
    have done: the global checkpoint function (``apply_unsloth_gradient_checkpointing``), the
    recorded mode, and the flags through ``for_training``. The input embeddings keep the
    ``requires_grad`` hook both modes install (``training_utils.py:513``). Turning checkpointing
    off after ``"unsloth"`` is what the full profile does on a large card (the off-mode costs of
    docs/benchmarks.md were measured with the mode chosen before ``get_peft_model``); turning it on
    after False goes through Unsloth's own ``for_training`` arming and has not been measured.
    Introduced in 05_lora_training.
    """
    # imported by ``import unsloth`` on a GPU; absent under Unsloth's CPU backend, where importing it
    # fails (a circular import), and for a model that is not Unsloth's
    utils = sys.modules.get("unsloth.models._utils")
    effective = mode
    if utils is not None:
        try:
            dtype = model.get_input_embeddings().weight.dtype
        except (AttributeError, NotImplementedError):
            dtype = None  # Unsloth then picks bf16 where the GPU has it
        effective = utils.apply_unsloth_gradient_checkpointing(mode, getattr(model, "max_seq_length", 2048), dtype)
    model._unsloth_gradient_checkpointing = effective
    if hasattr(model, "for_training"):
        model.for_training(use_gradient_checkpointing=effective)
    return effective


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _adapter_bytes(model) -> int:
    """GPU bytes of the trainable (LoRA) weights: already allocated when ``speed_up`` measures, but not
    when ``fit_recipe``'s constants were measured (after loading, before ``get_peft_model``)."""
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad and p.is_cuda)


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


def _frozen_row(cfg: Config, recipe: Recipe, fitted: bool, model_config) -> tuple[str, Any, Any, str]:
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
    elif not fitted:
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

    ``free_bytes``: the free GPU memory to fit to; by default GPU 0's, measured now (plus the LoRA
    weights already on it, as ``fit_recipe``'s constants were measured before them), or None
    without a GPU. Give a number to see what another card would get (the table and the decision
    are the same on any machine; the tests do so on a CPU). The rows per optimizer step are the
    ``SFTConfig``'s (batch x accumulation), kept; the checkpointing mode is the one recorded on the
    model. ``dataset`` (with its ``tokenizer``): the training set, whose measured step size
    (``measured_step``) decides whether the frozen weights are kept. Call it once per model, right
    before ``SFTTrainer(...)``. Introduced in 05_lora_training.
    """
    mode = recorded_checkpointing(model, cfg.use_gradient_checkpointing)
    source = cfg.replace(per_device_train_batch_size=args.per_device_train_batch_size,
                         gradient_accumulation_steps=args.gradient_accumulation_steps,
                         use_gradient_checkpointing=mode, padding_free=args.padding_free)
    if free_bytes is None and cfg.speed_layer:
        free_bytes = free_gpu_bytes()
        if free_bytes is not None:
            free_bytes += _adapter_bytes(model)
    before = _take_back_budget()
    if not cfg.speed_layer or free_bytes is None:
        off = [] if cfg.speed_layer else ["cfg.speed_layer is off"]
        if free_bytes is None and not _cuda():
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
        # A copy with attributes set, as Unsloth's trainer itself sets them (configure_padding_free,
        # unsloth/utils/packing.py:198); dataclasses.replace would rebuild it through Unsloth's own
        # SFTConfig.__init__ and every __post_init__ again.
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
    rows.append(_frozen_row(cfg, recipe, _fitted(recipe), getattr(model, "config", None)))
    if recipe.padding_free:
        compile_varlen_dynamic()
        callbacks.append(StandardStridesPerPass())
        return rows + [("varlen dynamic_sources", _STATIC, "cu_seqlens and longest sequence dynamic",
                        "no recompile of every block when a pass's longest sequence changes"),
                       ("pass strides", _SLICES, "standard strides while training",
                        "no recompile at the first step split into passes")]
    return rows + [("varlen dynamic_sources", _STATIC, _STATIC, "padding-free passes only"),
                   ("pass strides", _SLICES, _SLICES, "padding-free passes only")]


__all__ = ["KeepDequantized", "Speedup", "measured_step", "recorded_checkpointing", "speed_up",
           "set_gradient_checkpointing"]
