"""The GPU speed layer, opt-in: one visible call in notebook 05, after the source's ``SFTConfig``.

    from qwen3lab import fast

    speedup = fast.speed_up(model, args, cfg)   # after get_peft_model(...) and SFTConfig(...)
    args = speedup.args
    speedup.table                               # what it changed: source value, fitted value, why
    trainer = SFTTrainer(model=model, ..., args=args, callbacks=speedup.callbacks)

On a CPU, or with ``cfg.speed_layer`` off, it changes nothing and its table says so. On a GPU it
fits the batch, padding-free batching, gradient checkpointing and Unsloth's token budget to the
free memory (``recipe``), computes each LoRA layer on a 4-bit weight as one operator, optionally
keeping the frozen weights dequantized or in FP8 (``fused_lora``), and avoids two recompiles of
Unsloth's compiled layers (``compile``); ``speedup`` carries all this out. The measurements
behind each piece are in docs/benchmarks.md. ``import qwen3lab`` does not import this package.
Introduced in 05_lora_training.
"""

from .recipe import GIB, Recipe, cap_gpu_memory, fit_recipe, free_gpu_bytes
from .speedup import KeepDequantized, Speedup, speed_up

__all__ = ["GIB", "KeepDequantized", "Recipe", "cap_gpu_memory", "fit_recipe", "free_gpu_bytes", "speed_up"]
