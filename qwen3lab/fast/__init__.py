"""The GPU speed layer, opt-in: one visible call in notebook 05, after the source's ``SFTConfig``.

    from qwen3lab import fast

    speedup = fast.speed_up(model, args, cfg)   # after get_peft_model(...) and SFTConfig(...)
    args = speedup.args
    speedup.table                               # what it changed: source value, fitted value, why
    trainer = SFTTrainer(model=model, ..., args=args, callbacks=speedup.callbacks)

On a CPU, or with ``cfg.speed_layer`` off, it changes nothing and its table says so. On a GPU it
fits the batch, padding-free batching, gradient checkpointing and Unsloth's token budget to the
free memory, computes each LoRA layer on a 4-bit weight as one operator, keeps the frozen weights
dequantized (in FP8) while training where asked (``cfg.keep_dequantized``) and the card has room,
and avoids two recompiles of
Unsloth's compiled layers. The measurements behind each piece are in docs/benchmarks.md.

* ``recipe``: what fits in memory (``fit_recipe``: pure arithmetic on the free memory).
* ``speedup``: ``speed_up``, which carries a decision out on the model, the ``SFTConfig``, the
  environment and the trainer's callbacks, and the table.
* ``fused_lora``: the fused LoRA operators, and the frozen weights kept dequantized or in FP8.
* ``compile``: the two recompile fixes of padding-free passes.

Nothing on the default path imports this package: ``import qwen3lab`` does not.
Introduced in 05_lora_training.
"""

from .recipe import GIB, Recipe, cap_gpu_memory, fit_recipe, free_gpu_bytes
from .speedup import KeepDequantized, Speedup, speed_up

__all__ = ["GIB", "KeepDequantized", "Recipe", "Speedup", "cap_gpu_memory", "fit_recipe", "free_gpu_bytes", "speed_up"]
