"""What fits on the card: micro-batch, padding-free batching, checkpointing and the token budget.

The source tutorial's recipe (2 rows x 4 accumulation steps, padded rows, Unsloth's offloaded
gradient checkpointing) is sized for a small card. On a GPU with room it is faster to feed all
rows of an optimizer step as one padding-free micro-batch and to keep activations instead of
recomputing them. Unsloth splits such a micro-batch into passes of at most ``UNSLOTH_TOKEN_BUDGET``
tokens with an unchanged loss, so the budget (not the row count) is what must fit. ``fit_recipe``
computes it from the free memory and a per-token activation cost, turns checkpointing on only when
one row of ``max_seq_length`` tokens would not fit without it, and decides whether the frozen
weights stay dequantized (``Recipe.keep_dequantized``): they cost budget, so only where the budget
left still holds a step of the training set's size (``step_tokens``).

Pure arithmetic except the three small probes of GPU 0 at the end; ``speedup.speed_up`` carries a
decision out. The constants were measured with the Qwen3-8B shape (docs/benchmarks.md) and scale
with layers x hidden size. Introduced in 05_lora_training (``qwen3lab.fast``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config import Config

GIB = 2**30
MIB = 2**20
#: Qwen3-8B shape, bytes per token of a pass, (without, with) gradient checkpointing, per loader
#: (``cfg.loader``): FastModel's per-layer compiled forward keeps more activations than Unsloth's
#: fused LoRA kernels under FastLanguageModel.
ACTIVATION_BYTES = {
    "FastLanguageModel": (4.1 * MIB, 0.17 * MIB),
    "FastModel": (4.8 * MIB, 0.17 * MIB),
}
#: What training needs beyond the loaded model: gradients and optimizer state of the LoRA weights,
#: chunked cross-entropy buffers, allocator slack.
BASE_BYTES = 2.5 * GIB
HEADROOM = 0.85  # use at most this share of the free memory
_REFERENCE_SIZE = 36 * 4096  # num_hidden_layers x hidden_size of Qwen3-8B

TOKEN_BUDGET_ENV = "UNSLOTH_TOKEN_BUDGET"
#: Keep the frozen weights dequantized (cfg.keep_dequantized None) when the token budget left
#: afterwards still holds a measured step (``step_tokens``: this quantile of the training set's
#: steps) in one pass; without a measured step, this share of a step's rows at max_seq_length.
STEP_QUANTILE = 0.9
KEEP_DEQUANTIZED_FILL = 0.5


@dataclass(frozen=True)
class Recipe:
    """A decision of ``fit_recipe``: the batch, checkpointing and budget to train with, and why.
    Introduced in 05_lora_training."""

    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    use_gradient_checkpointing: str | bool
    padding_free: bool | None
    token_budget: int | None
    reason: str
    keep_dequantized: bool = False  # the frozen weights, while training (fused_lora.keep_dequantized)
    fp8_frozen: bool = False  # kept in FP8, their products in FP8 (only where they are kept)
    planned_bytes: int | None = None  # GPU bytes it plans to add to what was allocated when fitted
    step_size: int | None = None  # the step (tokens) the keep decision was made for
    free_bytes: int | None = None  # the free GPU memory it was fitted to

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scale(model_config) -> float:
    if model_config is None:
        return 1.0
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    return (text.num_hidden_layers * text.hidden_size) / _REFERENCE_SIZE


def source_recipe(cfg: Config, reason: str) -> Recipe:
    """The recipe exactly as the config states it (the source tutorial's, on the full profile).
    Introduced in 05_lora_training."""
    return Recipe(cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps,
                  cfg.use_gradient_checkpointing, cfg.padding_free, None, reason)


def dequantized_bytes(cfg: Config, model_config, fp8: bool = False) -> int:
    """Bytes of the copy of the frozen weights that LoRA targets that ``fused_lora.keep_dequantized``
    keeps: 2 per weight in 16 bits, 1 per weight plus a float32 scale per output channel in FP8;
    0 where nothing would be kept (no fused_lora, no 4-bit weights, no model config).
    Introduced in 05_lora_training."""
    if not (cfg.fused_lora and cfg.load_in_4bit) or model_config is None:
        return 0
    from ..model import projection_shapes

    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    shapes = projection_shapes(text)
    targets = [t for t in (cfg.target_modules or tuple(shapes)) if t in shapes]
    if fp8:  # shapes are (in, out)
        return text.num_hidden_layers * sum(shapes[t][0] * shapes[t][1] + 4 * shapes[t][1] for t in targets)
    return 2 * text.num_hidden_layers * sum(shapes[t][0] * shapes[t][1] for t in targets)


def step_tokens(lengths, rows: int, max_seq_length: int, quantile: float = STEP_QUANTILE,
                draws: int = 4096, seed: int = 0) -> int:
    """Tokens in an optimizer step of ``rows`` rows, from the rows' token ``lengths`` (each cut at
    ``max_seq_length``, as the trainer cuts them): the ``quantile`` of ``draws`` steps of rows drawn
    at random, as the trainer's shuffled sampler draws them. Introduced in 05_lora_training."""
    import numpy as np

    lengths = np.minimum(np.asarray(lengths, dtype=np.int64), max_seq_length)
    if lengths.size == 0:
        raise ValueError("step_tokens: no row lengths to measure (an empty training set?)")
    picks = np.random.default_rng(seed).integers(0, lengths.size, size=(draws, rows))
    return int(np.quantile(lengths[picks].sum(axis=1), quantile))


def fit_recipe(cfg: Config, free_bytes: int | None, model_config=None, step_size: int | None = None) -> Recipe:
    """The fastest recipe that fits ``free_bytes`` of GPU memory, keeping the rows per optimizer step.

    ``None`` free memory (no GPU) or ``cfg.speed_layer`` off keep the configured recipe. With
    ``cfg.fused_lora``, the frozen weights are also kept dequantized (in FP8 where ``cfg.fp8_frozen``
    and the GPU has FP8 products) per ``cfg.keep_dequantized``: None, when checkpointing is off and
    the budget left still holds a step of ``step_size`` tokens (``step_tokens``; without one, half a
    step's rows at ``max_seq_length``) in one pass; True, whenever a full row still fits; False, never.
    Introduced in 05_lora_training.
    """
    if not cfg.speed_layer or free_bytes is None:
        return source_recipe(cfg, "as configured (speed_layer off or no GPU)")
    rows = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    step = step_size if step_size else int(KEEP_DEQUANTIZED_FILL * rows * cfg.max_seq_length)
    step_note = f"a measured step of {step:,} tokens" if step_size else f"half a step's rows at {cfg.max_seq_length}"
    scale = _scale(model_config)
    usable = HEADROOM * free_bytes - BASE_BYTES * scale
    fp8 = bool(cfg.fp8_frozen and cfg.keep_dequantized is not False and cfg.fused_lora and gpu_has_fp8())
    dense = dequantized_bytes(cfg, model_config, fp8) if cfg.keep_dequantized is not False else 0
    without, with_ = ACTIVATION_BYTES[cfg.loader]
    for checkpointing, per_token in ((False, without), ("unsloth", with_)):
        budget = int(usable / (per_token * scale)) if usable > 0 else 0
        if budget < cfg.max_seq_length:
            continue
        kept = int((usable - dense) / (per_token * scale)) if dense else 0
        # by default only without checkpointing: the case measured (docs/benchmarks.md)
        keep = kept >= cfg.max_seq_length and (cfg.keep_dequantized is True or (
            checkpointing is False and kept >= step))
        what = "off" if checkpointing is False else "Unsloth's (offloaded)"
        kept_note = (f", frozen weights kept dequantized ({dense / GIB:.1f} GiB"
                     f"{', in FP8, products in FP8' if fp8 else ''}; the budget left holds {step_note})"
                     if keep else "")
        budget = kept if keep else budget
        planned = int(BASE_BYTES * scale + (dense if keep else 0) + budget * per_token * scale)
        return Recipe(rows, 1, checkpointing, True, budget,
                      f"{free_bytes / GIB:.1f} GiB free: one padding-free micro-batch of {rows} rows per step, "
                      f"at most {budget:,} tokens per pass, gradient checkpointing {what}{kept_note}", keep,
                      keep and fp8, planned, step, free_bytes)
    return source_recipe(cfg, f"only {free_bytes / GIB:.1f} GiB free: not enough for one {cfg.max_seq_length}-token "
                              "row without padding; keeping the configured recipe")


def gpu_has_fp8() -> bool:
    """Whether GPU 0 has FP8 tensor cores (``fused_lora.fp8_supported``: compute capability 8.9 or newer).
    Introduced in 05_lora_training."""
    import torch

    from .fused_lora import fp8_supported

    return torch.cuda.is_available() and fp8_supported("cuda:0")


def free_gpu_bytes() -> int | None:
    """Free memory of GPU 0 as this process may use it: the card's free memory, or less where a
    per-process memory fraction (``cap_gpu_memory``, or anyone's ``set_per_process_memory_fraction``)
    leaves less to this process's allocator. Introduced in 05_lora_training."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    allowed = int(torch.cuda.get_per_process_memory_fraction() * total) - torch.cuda.memory_reserved()
    return max(0, min(free, allowed))


def cap_gpu_memory(gib: float) -> None:
    """Let this process use at most ``gib`` GiB of GPU 0 (to rehearse a smaller card: the
    benchmark's ``--memory-cap-gib``). Introduced in 05_lora_training."""
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, gib * GIB / total))


__all__ = ["Recipe", "cap_gpu_memory", "dequantized_bytes", "fit_recipe", "free_gpu_bytes",
           "gpu_has_fp8", "source_recipe", "step_tokens"]
