"""What a training run fed the model, step by step: tokens, trained tokens (labels other than
-100), rows and padding of each optimizer step, and its wall time. Notebook 05 and
``benchmarks/bench_train.py`` count with it, so their rates are comparable. Introduced in 05_lora_training.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

FIELDS = ("tokens", "trained", "rows", "padded", "longest")


def add_batch_counts(counts: dict, inputs) -> None:
    """Add one micro-batch's real tokens, trained tokens (shifted labels != -100), rows and pad tokens."""
    labels = inputs["labels"]
    mask = inputs.get("attention_mask")
    if mask is not None and mask.dim() == 2:  # padded rows
        real = int(mask.sum())
        counts["rows"] += int(mask.shape[0])
        counts["padded"] += int(mask.numel()) - real
        longest = int(mask.sum(dim=1).max())
    else:  # padding-free: one row of concatenated sequences, starts marked by position 0
        positions = inputs.get("position_ids")
        pad = _padding_tail(positions, labels)  # pad_to_multiple_of: a tail of position-0 pad tokens
        real = int(labels.numel()) - pad
        counts["padded"] += pad
        counts["rows"] += int((positions == 0).sum()) - pad if positions is not None else int(labels.shape[0])
        longest = int(positions.max()) + 1 if positions is not None else int(labels.shape[-1])
    counts["tokens"] += real
    counts["trained"] += int((labels[..., 1:] != -100).sum())
    counts["longest"] = max(counts["longest"], longest)


def _padding_tail(positions, labels) -> int:
    """Pad tokens at the end of a padding-free row: TRL pads it to ``pad_to_multiple_of`` with
    position 0 and label -100, so they are the run of such tokens that ends the row (a real
    sequence of two tokens or more ends above position 0)."""
    if positions is None:
        return 0
    pad = ((positions.reshape(-1) == 0) & (labels.reshape(-1) == -100)).int()
    real = (pad == 0).nonzero()
    return int(pad.numel()) if real.numel() == 0 else int(pad.numel() - 1 - int(real[-1]))


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepMeter:
    """Counts and times every optimizer step of ``trainer`` from now on (across ``train()`` calls,
    a resumed one included).

    It wraps ``trainer.training_step`` (a data collator wrapper sees nothing under Unsloth, whose
    token budget wraps ``training_step`` when the trainer is built: this wrapper is outside it, so a
    step's tokens are counted once, whole) and adds a callback that times each step, with the GPU
    synchronized at both ends. ``steps`` holds one dict per step.
    """

    def __init__(self, trainer):
        from transformers import TrainerCallback

        self.steps: list[dict[str, Any]] = []
        self.counts = dict.fromkeys(FIELDS, 0)
        inner = trainer.training_step
        meter = self

        def counting_step(model, inputs, *rest, **kwargs):
            add_batch_counts(meter.counts, inputs)
            return inner(model, inputs, *rest, **kwargs)

        class Timer(TrainerCallback):
            def on_step_begin(self, *_, **__):
                _synchronize()
                self.start, self.before = time.perf_counter(), dict(meter.counts)

            def on_step_end(self, args, state, *_, **__):
                _synchronize()
                meter.steps.append({"step": state.global_step, "s": time.perf_counter() - self.start,
                                    **{k: meter.counts[k] - self.before[k] for k in FIELDS if k != "longest"},
                                    "longest": meter.counts["longest"]})
                meter.counts["longest"] = 0

        trainer.training_step = counting_step
        trainer.add_callback(Timer())

    def summary(self, skip: int = 0) -> dict[str, float]:
        """Rates over the steps after the first ``skip`` (compiling and warm-up happen in the first
        ones): trained and real tokens per second, the median step, tokens and rows per step."""
        measured = self.steps[skip:]
        if not measured or not sum(s["tokens"] for s in measured):
            raise RuntimeError(f"no step counted after the first {skip} of {len(self.steps)}: was the "
                               "meter attached before trainer.train()?")
        seconds = sum(s["s"] for s in measured)
        tokens, trained = sum(s["tokens"] for s in measured), sum(s["trained"] for s in measured)
        padded = sum(s["padded"] for s in measured)
        return {"steps": len(measured), "seconds": seconds, "trained_tokens_per_s": trained / seconds,
                "tokens_per_s": tokens / seconds, "median_step_s": statistics.median(s["s"] for s in measured),
                "tokens_per_step": tokens / len(measured), "rows_per_step": sum(s["rows"] for s in measured) / len(measured),
                "padding_share": padded / max(1, padded + tokens)}


__all__ = ["StepMeter", "add_batch_counts"]
