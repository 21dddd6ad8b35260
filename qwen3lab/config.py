"""One typed configuration for the whole series, and its named profiles.

Field names are the upstream argument names (Unsloth's ``FastLanguageModel``, PEFT's
``LoraConfig``, TRL's ``SFTConfig``) so that a value can be read in the notebook and passed
on unchanged. A profile is a set of field values, never a branch in the code: code reads
``cfg.<field>``, not ``cfg.profile``.

Introduced in 00_setup.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

#: The model name that means "build the tiny random-weight Qwen3 locally" (see ``tiny.py``).
TINY_MODEL_NAME = "qwen3lab/tiny-qwen3"
#: The data set name that means "the rows bundled with the package" (see ``data/sources.py``).
BUNDLED = "bundled"

PROFILE_ENV = "QWEN3LAB_PROFILE"
BACKEND_ENV = "QWEN3LAB_BACKEND"
LOADER_ENV = "QWEN3LAB_UNSLOTH_LOADER"


class ConfigError(ValueError):
    """A configuration value or profile name that cannot be used."""


@dataclass(frozen=True)
class Config:
    """Every knob of the series. Introduced in 00_setup, read by every notebook after it."""

    profile: str = "tiny"

    # -- model (FastLanguageModel.from_pretrained) ------------------------------------
    model_name: str = TINY_MODEL_NAME
    max_seq_length: int = 1024
    dtype: str | None = None  # None = let the backend choose (bf16 on capable GPUs)
    load_in_4bit: bool = True
    backend: str = "auto"  # "auto" (Unsloth if installed), "unsloth" or "transformers"
    unsloth_loader: str = "FastLanguageModel"  # or "FastModel" (compiled padding-free training, backend.py)
    requires_cuda: bool = False  # refuse to start without a CUDA GPU

    # -- data -------------------------------------------------------------------------
    reasoning_dataset: str = BUNDLED  # Hub: "unsloth/OpenMathReasoning-mini"
    reasoning_split: str = "cot"
    chat_dataset: str = BUNDLED  # Hub: "mlabonne/FineTome-100k"
    chat_split: str = "train"
    chat_fraction: float = 0.75  # the source tutorial: 25% reasoning, 75% chat
    length_policy: str = "drop"  # rows longer than max_seq_length: "report", "drop" or "truncate"
    dataset_num_proc: int | None = None  # None = one process (fastest for small sets)

    # -- LoRA (FastLanguageModel.get_peft_model / peft.LoraConfig) --------------------
    r: int = 32
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    bias: str = "none"
    target_modules: tuple[str, ...] | None = None  # None = every linear layer of the decoder
    use_gradient_checkpointing: str | bool = "unsloth"
    random_state: int = 3407

    # -- training (trl.SFTConfig) -----------------------------------------------------
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 4
    warmup_steps: int = 5
    max_steps: int = 30
    learning_rate: float = 2e-4
    logging_steps: int = 1
    optim: str = "adamw_8bit"
    weight_decay: float = 0.01
    lr_scheduler_type: str = "linear"
    seed: int = 3407
    save_steps: int = 10
    padding_free: bool | None = None  # None = the library's default (Unsloth turns it on)
    auto_recipe: bool = False  # fit micro-batch/checkpointing to the free GPU memory (recipe.py)
    fused_lora: bool = False  # LoRA layers on 4-bit weights as one operator (fused_lora.py)
    # with fused_lora, keep the frozen weights dequantized while training: None = when the fitted
    # recipe has the memory (recipe.py), True = always (the budget pays for it), False = never
    keep_dequantized: bool | None = None
    # with the frozen weights kept, keep them in FP8 and run their products in FP8 where the GPU
    # has FP8 tensor cores (fused_lora.keep_dequantized); False = 16 bits, the same results as not kept
    fp8_frozen: bool = False
    pad_to_multiple_of: int | None = None  # pad each step's tokens to a multiple (SFTConfig's); None = off
    report_to: str = "swanlab"
    swanlab_mode: str = "offline"  # "offline" (local files, no account) or "cloud"

    # -- tiny model shape (used only when model_name == TINY_MODEL_NAME) --------------
    tiny_hidden_size: int = 64
    tiny_intermediate_size: int = 192
    tiny_num_hidden_layers: int = 2
    tiny_num_attention_heads: int = 4
    tiny_num_key_value_heads: int = 2
    tiny_head_dim: int = 16

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated like a new config)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {field_names()}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["target_modules"] is not None:
            d["target_modules"] = list(d["target_modules"])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {field_names()}")
        data = dict(data)
        if data.get("target_modules") is not None:
            data["target_modules"] = tuple(data["target_modules"])
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); delete it and re-run the stage") from exc

    @property
    def uses_tiny_model(self) -> bool:
        return self.model_name == TINY_MODEL_NAME


def field_names() -> list[str]:
    return [f.name for f in fields(Config)]


_CHOICES = {
    "backend": ("auto", "unsloth", "transformers"),
    "unsloth_loader": ("FastLanguageModel", "FastModel"),
    "length_policy": ("report", "drop", "truncate"),
    "swanlab_mode": ("offline", "cloud", "local", "disabled"),
    "bias": ("none", "all", "lora_only"),
}


def _validate(cfg: Config) -> None:
    for name, choices in _CHOICES.items():
        value = getattr(cfg, name)
        if value not in choices:
            raise ConfigError(f"config field {name}={value!r} is not one of {list(choices)}")
    if not (isinstance(cfg.chat_fraction, (int, float)) and 0.0 <= cfg.chat_fraction <= 1.0) or (
        isinstance(cfg.chat_fraction, float) and math.isnan(cfg.chat_fraction)
    ):
        raise ConfigError(f"chat_fraction={cfg.chat_fraction!r} must be a number in [0, 1]")
    for name in ("max_seq_length", "r", "lora_alpha", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "max_steps", "logging_steps", "save_steps"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"config field {name}={value!r} must be a positive integer")
    if cfg.pad_to_multiple_of is not None and (not isinstance(cfg.pad_to_multiple_of, int)
                                               or isinstance(cfg.pad_to_multiple_of, bool)
                                               or cfg.pad_to_multiple_of <= 0):
        raise ConfigError(f"pad_to_multiple_of={cfg.pad_to_multiple_of!r} must be None (no padding) or a "
                          "positive integer")
    if not (cfg.keep_dequantized is None or isinstance(cfg.keep_dequantized, bool)):
        raise ConfigError(f"keep_dequantized={cfg.keep_dequantized!r} must be None (decided by the recipe), "
                          "True or False")
    if not isinstance(cfg.fp8_frozen, bool):
        raise ConfigError(f"fp8_frozen={cfg.fp8_frozen!r} must be True or False")
    if cfg.tiny_num_attention_heads % cfg.tiny_num_key_value_heads:
        raise ConfigError("tiny_num_attention_heads must be a multiple of tiny_num_key_value_heads (GQA)")


#: Named presets. ``full`` is the source tutorial; ``tiny`` is the same recipe scaled to a CPU.
PROFILES: dict[str, Config] = {
    "tiny": Config(
        profile="tiny",
        max_seq_length=1024,
        # The tiny model starts from random weights: a larger step size makes its loss fall
        # visibly within a minute on a CPU. Fewer steps: with the real 151,936-token vocabulary a
        # step of 8 bundled rows (about 2,200 padded tokens) takes about 1.6 s on 2 CPU cores, almost
        # all in the LM head, so 30 steps alone would take notebook 05 past a minute.
        # Everything else is the source's recipe.
        learning_rate=5e-3,
        max_steps=10,
        save_steps=5,
    ),
    "full": Config(
        profile="full",
        model_name="unsloth/Qwen3-8B-unsloth-bnb-4bit",
        max_seq_length=8192,
        requires_cuda=True,
        reasoning_dataset="unsloth/OpenMathReasoning-mini",
        chat_dataset="mlabonne/FineTome-100k",
        learning_rate=2e-4,
        max_steps=30,
        save_steps=10,
        auto_recipe=True,
        # transformers' Qwen3 forward, which Unsloth compiles per layer also for the padding-free
        # batches auto_recipe chooses: 1.35x the trained tokens/s of FastLanguageModel at 2048 on an
        # H100 (docs/benchmarks.md). The tiny profile keeps the source tutorial's FastLanguageModel.
        unsloth_loader="FastModel",
        # each LoRA layer on a 4-bit weight as one operator (qwen3lab/fused_lora.py): the LoRA sum
        # in the frozen product's epilogue instead of a copy and a pass over the output
        fused_lora=True,
        # where the recipe keeps the frozen weights dequantized (the card has room: 2048 on 80 GB),
        # keep them in FP8 and multiply in FP8 on GPUs with FP8 tensor cores: 1.2x the trained
        # tokens/s of bf16 at 2048 on an H100, loss within 0.22% (docs/benchmarks.md)
        fp8_frozen=True,
        swanlab_mode="cloud",
    ),
}


def get_config(profile: str | None = None, **overrides: Any) -> Config:
    """The active configuration: ``profile`` (or ``$QWEN3LAB_PROFILE``, default ``tiny``)
    with ``overrides`` applied, and ``$QWEN3LAB_BACKEND`` / ``$QWEN3LAB_UNSLOTH_LOADER`` if set.

    Introduced in 00_setup.
    """
    name = profile or os.environ.get(PROFILE_ENV) or "tiny"
    if name not in PROFILES:
        raise ConfigError(
            f"unknown profile {name!r} (from {'the argument' if profile else '$' + PROFILE_ENV}); "
            f"choose one of {sorted(PROFILES)}, e.g. `make run PROFILE=tiny`"
        )
    cfg = PROFILES[name]
    for env, field in ((BACKEND_ENV, "backend"), (LOADER_ENV, "unsloth_loader")):
        value = os.environ.get(env)
        if value and field not in overrides:
            overrides[field] = value
    return cfg.replace(**overrides) if overrides else cfg


def describe(cfg: Config) -> str:
    """The config as an aligned two-column table, for the first cell of every notebook."""
    rows = cfg.to_dict()
    width = max(map(len, rows))
    return "\n".join(f"{k:<{width}}  {v!r}" for k, v in rows.items())


__all__ = ["BUNDLED", "Config", "ConfigError", "PROFILES", "TINY_MODEL_NAME", "describe", "get_config"]
