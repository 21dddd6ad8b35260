"""Guards the GPU recipe chooser (qwen3lab.fast.recipe): it keeps the rows per optimizer step,
turns checkpointing off only when a full-length row fits without it, falls back to the configured
recipe on small cards or without a GPU, and keeps the frozen weights (in FP8, one byte a weight)
only where the budget left holds a measured step. Pure decisions on given free memory; no GPU needed."""

import pytest

from qwen3lab.config import get_config
from qwen3lab.fast.recipe import ACTIVATION_BYTES, GIB, dequantized_bytes, fit_recipe, free_gpu_bytes


def test_large_card_drops_checkpointing_and_keeps_rows_per_step():
    cfg = get_config("full", speed_layer=True, keep_dequantized=None)
    recipe = fit_recipe(cfg, 70 * GIB)
    assert recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps == 8
    assert recipe.use_gradient_checkpointing is False and recipe.padding_free is True
    assert recipe.token_budget >= cfg.max_seq_length
    assert "70.0 GiB free" in recipe.reason


def test_small_card_keeps_offloaded_checkpointing():
    recipe = fit_recipe(get_config("full", speed_layer=True, keep_dequantized=None), 16 * GIB)
    assert recipe.use_gradient_checkpointing == "unsloth"
    assert recipe.token_budget >= 8192


def test_too_little_memory_or_no_gpu_keeps_the_configured_recipe():
    cfg = get_config("full", speed_layer=True, keep_dequantized=None)
    for free in (None, 2 * GIB):
        recipe = fit_recipe(cfg, free)
        assert (recipe.per_device_train_batch_size, recipe.gradient_accumulation_steps) == (2, 4)
        assert recipe.token_budget is None


def test_speed_layer_off_is_respected():
    recipe = fit_recipe(get_config("tiny"), 70 * GIB)
    assert (recipe.per_device_train_batch_size, recipe.use_gradient_checkpointing) == (2, "unsloth")


def test_budget_scales_with_model_size():
    from qwen3lab.tiny import tiny_qwen3_config

    cfg = get_config("full", speed_layer=True, keep_dequantized=None)
    tiny = tiny_qwen3_config(get_config("tiny"))
    big, small = fit_recipe(cfg, 70 * GIB), fit_recipe(cfg, 70 * GIB, tiny)
    assert big.use_gradient_checkpointing is small.use_gradient_checkpointing is False
    assert small.token_budget > 100 * big.token_budget


def test_budget_follows_the_loaders_activation_cost():
    """FastModel's compiled forward keeps more activations per token than FastLanguageModel's, so the
    same free memory buys it a smaller pass; both leave checkpointing off on a large card."""
    cfg = get_config("full", speed_layer=True, keep_dequantized=None)
    fast_model = fit_recipe(cfg.replace(unsloth_loader="FastModel"), 72 * GIB)
    fast_lm = fit_recipe(cfg.replace(unsloth_loader="FastLanguageModel"), 72 * GIB)
    assert fast_model.use_gradient_checkpointing is fast_lm.use_gradient_checkpointing is False
    assert 12_000 < fast_model.token_budget < fast_lm.token_budget < 15_000


def test_free_memory_honours_a_per_process_fraction(monkeypatch):
    """A 24 GiB cap on an 80 GiB card with 5 GiB already reserved leaves 19 GiB, not the card's 70."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (70 * GIB, 80 * GIB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda *a: 5 * GIB)
    monkeypatch.setattr(torch.cuda, "get_per_process_memory_fraction", lambda *a: 0.3)
    assert free_gpu_bytes() == 19 * GIB
    monkeypatch.setattr(torch.cuda, "get_per_process_memory_fraction", lambda *a: 1.0)
    assert free_gpu_bytes() == 70 * GIB  # no cap: what the card has free
    monkeypatch.setattr(torch.cuda, "get_per_process_memory_fraction", lambda *a: 0.05)
    assert free_gpu_bytes() == 0  # the cap is already spent


def test_no_gpu_means_no_free_memory(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert free_gpu_bytes() is None


def _qwen3_8b():
    from transformers import Qwen3Config

    return Qwen3Config(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                       num_key_value_heads=8, head_dim=128, vocab_size=151_936)


def test_the_frozen_weights_of_qwen3_8b_take_13_9_gb_in_16_bits():
    # 36 layers x (q, o: 4096^2; k, v: 4096 x 1024; gate, up, down: 4096 x 12288) x 2 bytes
    assert dequantized_bytes(get_config("full", speed_layer=True, keep_dequantized=None), _qwen3_8b()) == 13_891_534_848
    assert dequantized_bytes(get_config("full", speed_layer=True, target_modules=("q_proj",), keep_dequantized=None), _qwen3_8b()) == 2 * 36 * 4096 * 4096
    assert dequantized_bytes(get_config("full", speed_layer=True, fused_lora=False, keep_dequantized=None), _qwen3_8b()) == 0  # only fused_lora keeps them
    assert dequantized_bytes(get_config("full", speed_layer=True, keep_dequantized=None), None) == 0


def test_by_default_the_frozen_weights_are_never_kept():
    """keep_dequantized is opt-in (False): not even where an H200's memory would hold them."""
    config, cfg = _qwen3_8b(), get_config("full", speed_layer=True)
    assert cfg.keep_dequantized is False and get_config("tiny").keep_dequantized is False
    for free, length in ((int(132.8 * GIB), 8192), (72 * GIB, 2048)):
        fitted = fit_recipe(cfg.replace(max_seq_length=length), free, config, step_size=8_000)
        assert not fitted.keep_dequantized and not fitted.fp8_frozen and "kept" not in fitted.reason


def test_weights_are_kept_dequantized_where_the_budget_left_holds_half_a_step():
    """72 GiB free (an H100 after loading): at 2048, 12.9 GiB of 16-bit weights leave a budget of
    about 9,800 tokens (more than half of 8 rows x 2048); at 8192 they would not, so they are not kept."""
    config = _qwen3_8b()
    short = fit_recipe(get_config("full", speed_layer=True, max_seq_length=2048, keep_dequantized=None), 72 * GIB, config)
    plain = fit_recipe(get_config("full", speed_layer=True, max_seq_length=2048, keep_dequantized=False), 72 * GIB, config)
    assert short.keep_dequantized and not plain.keep_dequantized
    assert short.token_budget >= 0.5 * 8 * 2048
    per_token = ACTIVATION_BYTES["FastModel"][0]
    assert abs((plain.token_budget - short.token_budget) * per_token - 13_891_534_848) < 2 * per_token  # it pays
    assert "kept dequantized (12.9 GiB;" in short.reason and "kept" not in plain.reason
    long = fit_recipe(get_config("full", speed_layer=True, keep_dequantized=None), 72 * GIB, config)
    assert not long.keep_dequantized and long.token_budget == plain.token_budget


def test_keep_dequantized_true_keeps_them_whenever_a_full_row_still_fits():
    config = _qwen3_8b()
    forced = fit_recipe(get_config("full", speed_layer=True, keep_dequantized=True), 72 * GIB, config)  # 8192: not by default
    assert forced.keep_dequantized and forced.token_budget >= 8192
    # a 24 GiB card: with offloaded checkpointing the budget left still holds a row (not half a step)
    assert fit_recipe(get_config("full", speed_layer=True, keep_dequantized=True), 24 * GIB, config).keep_dequantized
    assert not fit_recipe(get_config("full", speed_layer=True, keep_dequantized=None), 24 * GIB, config).keep_dequantized
    # a 16 GiB card has no room for 12.9 GiB more
    assert not fit_recipe(get_config("full", speed_layer=True, keep_dequantized=True), 16 * GIB, config).keep_dequantized


def test_fp8_only_where_the_weights_are_kept_and_the_gpu_has_fp8(monkeypatch):
    from qwen3lab.fast import recipe

    config = _qwen3_8b()
    monkeypatch.setattr(recipe, "gpu_has_fp8", lambda: True)
    short = fit_recipe(get_config("full", speed_layer=True, max_seq_length=2048, keep_dequantized=None), 72 * GIB, config)
    assert short.keep_dequantized and short.fp8_frozen and "in FP8" in short.reason
    assert not fit_recipe(get_config("full", speed_layer=True, keep_dequantized=None), 72 * GIB, config).fp8_frozen  # 8192: nothing kept, bf16
    off = fit_recipe(get_config("full", speed_layer=True, max_seq_length=2048, fp8_frozen=False, keep_dequantized=None), 72 * GIB, config)
    assert off.keep_dequantized and not off.fp8_frozen and "FP8" not in off.reason
    monkeypatch.setattr(recipe, "gpu_has_fp8", lambda: False)  # an A100: kept in 16 bits
    older = fit_recipe(get_config("full", speed_layer=True, max_seq_length=2048, keep_dequantized=None), 72 * GIB, config)
    assert older.keep_dequantized and not older.fp8_frozen
    assert not get_config("tiny").speed_layer and not get_config("full").speed_layer and get_config("full").fp8_frozen


@pytest.mark.parametrize("capability,has", [((9, 0), True), ((8, 9), True), ((8, 0), False)])
def test_gpu_has_fp8_from_its_compute_capability(monkeypatch, capability, has):
    import torch

    from qwen3lab.fast import recipe

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert recipe.gpu_has_fp8() is has  # H100, L4/RTX 4090 and A100
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert recipe.gpu_has_fp8() is False


def test_kept_fp8_weights_cost_one_byte_each_and_a_measured_step_decides(monkeypatch):
    """On an H200 at 8192 (132.8 GiB free after loading), FP8 weights cost 6.5 GiB, not 12.9, and a
    measured step of the full data's size (about 10,600 tokens, 90% of steps under 18,000) fits in
    the budget left: they are kept. Half a step's rows at full length (32,768 tokens) did not fit."""
    from qwen3lab.fast import recipe

    monkeypatch.setattr(recipe, "gpu_has_fp8", lambda: True)
    config, cfg = _qwen3_8b(), get_config("full", speed_layer=True, keep_dequantized=None)
    assert dequantized_bytes(cfg, config, fp8=True) == 13_891_534_848 // 2 + 36 * 4 * (3 * 4096 + 2 * 1024 + 2 * 12288)
    free = int(132.8 * GIB)
    unmeasured, measured = fit_recipe(cfg, free, config), fit_recipe(cfg, free, config, step_size=18_000)
    assert not unmeasured.keep_dequantized and measured.keep_dequantized and measured.fp8_frozen
    assert measured.token_budget >= 18_000 and "a measured step of 18,000 tokens" in measured.reason
    assert measured.step_size == 18_000 and unmeasured.step_size == 4 * 8192
    # what it plans stays within the share of the free memory it may use
    assert measured.planned_bytes <= recipe.HEADROOM * free
    # an 80 GB card (73 GiB free): the budget left would not hold that step, so nothing is kept
    assert not fit_recipe(cfg, 73 * GIB, config, step_size=18_000).keep_dequantized


def test_step_tokens_is_a_quantile_of_random_steps_of_cut_rows():
    from qwen3lab.fast.recipe import step_tokens

    assert step_tokens([100] * 50, rows=8, max_seq_length=8192) == 800
    assert step_tokens([10_000] * 50, rows=8, max_seq_length=8192) == 8 * 8192  # cut as the trainer cuts them
    lengths = [100] * 90 + [5000] * 10
    low, high = step_tokens(lengths, 8, 8192, quantile=0.1), step_tokens(lengths, 8, 8192, quantile=0.9)
    assert low < high and 800 <= low and high <= 8 * 5000
    assert step_tokens(lengths, 8, 8192) == step_tokens(lengths, 8, 8192)  # seeded: the same every time
    with pytest.raises(ValueError, match="no row lengths"):
        step_tokens([], 8, 8192)
