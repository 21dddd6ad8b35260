"""The two recompiles of a padding-free step under Unsloth's torch.compile, and what avoids each.

Measured with ``bench_train.py --torch-logs recompiles,recompiles_verbose`` on an H100 at
max_seq_length 8192 (docs/benchmarks.md, point 3), before these fixes:

1. At the second step (12 to 15 s): Unsloth hands each compiled decoder block of a padding-free
   pass its ``(cu_seqlens, longest sequence)`` pair, and the longest sequence was compiled as a
   constant (guard ``kwargs['_unsloth_block_varlen'][1] == 4696``); the sequence count, which is
   ``cu_seqlens``' length, changes again when a step is first split. ``compile_varlen_dynamic``
   has torch.compile treat both as dynamic from the first compile.
2. At the first step larger than ``UNSLOTH_TOKEN_BUDGET`` (7 to 10 s): Unsloth splits such a step
   into passes by slicing its ``[1, T]`` tensors (``unsloth/utils/token_budget.py``,
   ``_split_padding_free``: ``value[:, start:stop]``), and a slice keeps the whole step's row
   stride T, on which torch.compile guards (``position_ids.stride()[0] == inputs_embeds.size()[1]``,
   and the same for the labels in the chunked cross-entropy). ``StandardStridesPerPass`` copies
   each pass's ids, labels and positions (a few KB) into standard strides before the forward.

After both, the runs logged no recompile at 8192 or 2048; the first split step took 1.42 s
instead of 7.0 to 9.7 s. ``tests/test_fast_compile.py`` reproduces both guards on the CPU.

Introduced in 05_lora_training (``qwen3lab.fast``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

#: What Unsloth hands each compiled decoder block of a padding-free pass: (cu_seqlens, longest
#: sequence), as torch.compile names them.
UNSLOTH_VARLEN_SOURCES = ("L['kwargs']['_unsloth_block_varlen'][0]", "L['kwargs']['_unsloth_block_varlen'][1]")


def compile_varlen_dynamic() -> None:
    """Have torch.compile treat the per-pass sequence boundaries as dynamic from the first compile.

    Adds ``UNSLOTH_VARLEN_SOURCES`` to ``torch.compiler.config.dynamic_sources`` (keeping what is
    there); read when a graph is traced, so it must run before the first training step. Only
    those two inputs: compiling every shape as dynamic (``assume_static_by_default`` off) also
    avoided the second-step recompile, but made the steps 10-20% slower (docs/benchmarks.md).
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

    changed = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor) and value.dim() > 1:
            expected, size = [], 1
            for n in reversed(value.shape):
                expected.insert(0, size)
                size *= n
            if list(value.stride()) != expected:
                changed[key] = value.clone(memory_format=torch.contiguous_format)
    if not changed:
        return inputs
    out = dict(inputs) if not isinstance(inputs, dict) else inputs
    out.update(changed)
    return out


def _standard_strides_hook(module, args, kwargs):
    return args, standard_strides(kwargs)


class StandardStridesPerPass(TrainerCallback):
    """While ``trainer.train()`` runs, every forward of the model gets its tensors in standard strides.

    A forward pre-hook (with keyword arguments) on the model the trainer trains, added at
    ``on_train_begin`` (a callback is handed the model, not the trainer) and removed at
    ``on_train_end``. Where Unsloth 2026.10.9 cuts a step (line numbers of the installed sources):
    ``install_token_budget`` (``unsloth/utils/token_budget.py:650``, called at the end of the
    patched ``SFTTrainer.__init__``, ``unsloth/trainer.py:2082``) wraps ``trainer.training_step``;
    the wrapper (``token_budget.py:678``) cuts the collated batch with ``split_batch_by_token_budget``
    (``:285``; padding-free batches in ``_split_padding_free``, whose ``value[:, start:stop]`` at
    ``:232`` keeps the step's row stride) and calls the original ``training_step`` once per pass
    (``:727``). That one prepares the pass and calls the model with keyword arguments
    (``Trainer.compute_loss``: ``model(**inputs)``, ``transformers/trainer.py:2088``; TRL's
    ``SFTTrainer.compute_loss``: ``model(**inputs, fused_lm_head=True)``,
    ``trl/trainer/sft_trainer.py:1598-1609``). So the hook sees each pass, as the earlier wrapper of
    ``trainer._prepare_inputs`` did; a collator could not, since it runs before the cut.
    Introduced in 05_lora_training.
    """

    def __init__(self):
        self.handle = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.handle is None and model is not None:
            self.handle = model.register_forward_pre_hook(_standard_strides_hook, with_kwargs=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


__all__ = ["StandardStridesPerPass", "UNSLOTH_VARLEN_SOURCES", "compile_varlen_dynamic", "standard_strides"]
