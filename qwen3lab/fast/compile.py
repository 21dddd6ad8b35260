"""The two recompiles of a padding-free step under Unsloth's torch.compile, and what avoids each.

1. Unsloth hands each compiled decoder block of a padding-free pass its ``(cu_seqlens, longest
   sequence)`` pair; torch.compile guards on both as constants and recompiles when either changes.
   ``compile_varlen_dynamic`` has it treat them as dynamic from the first compile.
2. Unsloth splits a step over ``UNSLOTH_TOKEN_BUDGET`` into passes by slicing its ``[1, T]`` tensors
   (``_split_padding_free`` in ``unsloth/utils/token_budget.py``); a slice keeps the step's row
   stride, on which torch.compile guards. ``StandardStridesPerPass`` copies each pass's tensors
   into standard strides before the forward.

``tests/test_fast_compile.py`` reproduces both guards on the CPU. Introduced in 05_lora_training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

#: What Unsloth hands each compiled decoder block of a padding-free pass: (cu_seqlens, longest
#: sequence), as torch.compile names them.
UNSLOTH_VARLEN_SOURCES = ("L['kwargs']['_unsloth_block_varlen'][0]", "L['kwargs']['_unsloth_block_varlen'][1]")


def compile_varlen_dynamic() -> None:
    """Have torch.compile treat the per-pass sequence boundaries as dynamic from the first compile.

    Adds ``UNSLOTH_VARLEN_SOURCES`` to ``torch.compiler.config.dynamic_sources`` (keeping what is
    there); it is read when a graph is traced, so this must run before the first training step.
    Only those two inputs: making every shape dynamic made the steps slower (docs/benchmarks.md).
    Introduced in 05_lora_training.
    """
    import torch

    current = [s for s in torch.compiler.config.dynamic_sources.split(",") if s]
    torch.compiler.config.dynamic_sources = ",".join(
        current + [s for s in UNSLOTH_VARLEN_SOURCES if s not in current])


def standard_strides(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``inputs`` with every tensor laid out in standard (row-major) strides; the others as they are.

    A tensor that already has them is kept, not copied; a ``dict`` is updated in place, another
    mapping is returned as a new ``dict``. Introduced in 05_lora_training.
    """
    import torch

    # not Tensor.is_contiguous(): it ignores the stride of a size-1 dimension, the one a slice keeps
    changed = {key: value.clone(memory_format=torch.contiguous_format) for key, value in inputs.items()
               if isinstance(value, torch.Tensor) and value.dim() > 1
               and list(value.stride()) != [math.prod(value.shape[i + 1:]) for i in range(value.dim())]}
    if not changed:
        return inputs
    out = inputs if isinstance(inputs, dict) else dict(inputs)
    out.update(changed)
    return out


class StandardStridesPerPass(TrainerCallback):
    """While ``trainer.train()`` runs, every forward of the model gets its tensors in standard strides.

    A forward pre-hook (with keyword arguments) on the model, added at ``on_train_begin`` (a
    callback is handed the model, not the trainer) and removed at ``on_train_end``. Unsloth's
    ``install_token_budget`` wraps ``trainer.training_step``, cuts the batch and calls the original
    once per pass, which calls ``model(**inputs)``: so the hook sees each pass, where a collator,
    which runs before the cut, could not. Introduced in 05_lora_training.
    """

    def __init__(self):
        self.handle = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.handle is None and model is not None:
            self.handle = model.register_forward_pre_hook(
                lambda module, args, kwargs: (args, standard_strides(kwargs)), with_kwargs=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


__all__ = ["StandardStridesPerPass", "UNSLOTH_VARLEN_SOURCES", "compile_varlen_dynamic", "standard_strides"]
