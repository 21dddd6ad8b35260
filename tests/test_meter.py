"""qwen3lab.meter: notebook 05's training rate and the GPU benchmark's come from these counts."""

import torch

import qwen3lab  # noqa: F401  (conftest has imported Unsloth first: qwen3lab.bootstrap)
from qwen3lab.meter import StepMeter, add_batch_counts


class FakeTrainer:
    """What StepMeter touches of a Trainer: training_step and add_callback."""

    def __init__(self):
        self.callbacks, self.calls = [], 0

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.calls += 1
        return torch.tensor(1.0)

    def add_callback(self, callback):
        self.callbacks.append(callback)

    def step(self, global_step, *batches):
        """One optimizer step of several micro-batches, as the Trainer calls them."""
        state = type("State", (), {"global_step": global_step})()
        for cb in self.callbacks:
            cb.on_step_begin(None, state, None)
        for batch in batches:
            self.training_step(None, batch)
        for cb in self.callbacks:
            cb.on_step_end(None, state, None)


def _batch(lengths, width, trained_from=1):
    mask = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
    labels = torch.full_like(mask, -100)
    for row, n in enumerate(lengths):
        labels[row, trained_from:n] = 7
    return {"attention_mask": mask, "labels": labels}


def test_each_step_counts_its_micro_batches_once_and_the_inner_step_still_runs():
    trainer = FakeTrainer()
    meter = StepMeter(trainer)
    trainer.step(1, _batch([5, 3], 5), _batch([4, 4], 4))
    trainer.step(2, _batch([2, 2], 2))
    assert trainer.calls == 3
    first, second = meter.steps
    # step 1: 5 + 3 + 4 + 4 real tokens, 2 pad; trained = labels after the first position: n - 1 per row
    assert (first["step"], first["tokens"], first["padded"], first["rows"], first["longest"]) == (1, 16, 2, 4, 5)
    assert first["trained"] == (5 - 1) + (3 - 1) + (4 - 1) + (4 - 1)
    assert (second["tokens"], second["rows"], second["longest"]) == (4, 2, 2)  # longest is per step
    assert all(s["s"] >= 0 for s in meter.steps)


def test_summary_skips_warm_up_steps_and_refuses_an_empty_measurement():
    trainer = FakeTrainer()
    meter = StepMeter(trainer)
    for step in range(1, 5):
        trainer.step(step, _batch([4, 4], 4))
    meter.steps[0]["s"] = 100.0  # a slow compiling first step
    for s in meter.steps[1:]:
        s["s"] = 0.5
    warm = meter.summary(skip=1)
    assert warm["steps"] == 3 and warm["median_step_s"] == 0.5
    assert warm["trained_tokens_per_s"] == 3 * 6 / 1.5 and warm["tokens_per_s"] == 3 * 8 / 1.5
    assert meter.summary()["trained_tokens_per_s"] < warm["trained_tokens_per_s"]
    try:
        meter.summary(skip=4)
    except RuntimeError as err:
        assert "no step counted" in str(err)
    else:
        raise AssertionError("a summary over no steps must fail")


def test_padding_free_rows_are_counted_by_their_positions():
    counts = dict.fromkeys(("tokens", "trained", "rows", "padded", "longest"), 0)
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 0]])  # rows of 3 and 2 tokens, then 2 pad tokens
    labels = torch.tensor([[-100, 5, 5, -100, 5, -100, -100]])
    add_batch_counts(counts, {"position_ids": positions, "labels": labels})
    assert (counts["tokens"], counts["rows"], counts["padded"], counts["longest"]) == (5, 2, 2, 3)
