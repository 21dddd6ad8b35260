"""Guards the GPU benchmark's token accounting (benchmarks/bench_train.py): the rates in
docs/benchmarks.md are trained tokens over time, so a miscount would misstate every figure."""

import importlib.util
from pathlib import Path

import torch

_SPEC = importlib.util.spec_from_file_location(
    "bench_train", Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py")
bench_train = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_train)


def _counts():
    return {"tokens": 0, "trained": 0, "rows": 0, "padded": 0, "longest": 0}


def test_padded_batch_counts_real_tokens_padding_and_the_longest_row():
    counts = _counts()
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    labels = torch.tensor([[-100, -100, 7, 8, 9], [-100, 5, -100, -100, -100]])
    bench_train.add_batch_counts(counts, {"attention_mask": mask, "labels": labels})
    # trained = shifted labels that are not -100: 7, 8, 9 in row one, 5 in row two
    assert counts == {"tokens": 7, "trained": 4, "rows": 2, "padded": 3, "longest": 5}


def test_padding_free_batch_counts_sequences_by_their_position_resets():
    counts = _counts()
    positions = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 0]])
    labels = torch.tensor([[-100, 4, 4, -100, -100, 6, 6, 9]])
    bench_train.add_batch_counts(counts, {"position_ids": positions, "labels": labels})
    assert counts == {"tokens": 8, "trained": 5, "rows": 3, "padded": 0, "longest": 4}
    bench_train.add_batch_counts(counts, {"position_ids": torch.tensor([[0, 1]]),
                                          "labels": torch.tensor([[-100, 3]])})
    assert (counts["tokens"], counts["rows"], counts["longest"]) == (10, 4, 4)  # longest is a maximum


def test_a_padding_free_row_padded_to_a_multiple_counts_its_tail_as_padding():
    """TRL pads a padding-free row to ``pad_to_multiple_of`` with position 0 and label -100."""
    counts = _counts()
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 0, 0]])
    labels = torch.tensor([[-100, 4, 4, -100, 6, -100, -100, -100]])
    bench_train.add_batch_counts(counts, {"position_ids": positions, "labels": labels})
    assert counts == {"tokens": 5, "trained": 3, "rows": 2, "padded": 3, "longest": 3}


def test_flops_per_token_matches_the_issue_figure_for_qwen3_8b():
    """About 32.6 GFLOP per trained token at 2048 (4 x frozen + 6 x LoRA parameters + attention)."""
    assert abs(bench_train.flops_per_token(2048) / 1e9 - 32.6) < 0.3


def test_every_recipe_is_a_valid_full_profile_config_and_b_c_are_as_documented():
    from qwen3lab.config import get_config

    configs = {name: get_config("full", **spec["cfg"]) for name, spec in bench_train.RECIPES.items()}
    # (b) the source recipe as written; (c) the full profile's own loader, fitted to the card
    b, c = configs["b"], configs["c"]
    assert (b.unsloth_loader, b.per_device_train_batch_size, b.gradient_accumulation_steps) == ("FastLanguageModel", 2, 4)
    assert (b.use_gradient_checkpointing, b.padding_free, b.auto_recipe) == ("unsloth", False, False)
    assert (c.unsloth_loader, c.auto_recipe, c.fused_lora) == ("FastModel", True, True)
    assert not (b.fused_lora or configs["a"].fused_lora or configs["c-unfused"].fused_lora)
    assert configs["a"].backend == "transformers" and configs["c-fused"].optim == "adamw_torch_fused"
