"""Guards the GPU benchmark's accounting (benchmarks/bench_train.py): the rates in
docs/benchmarks.md are trained tokens over time, so a miscount would misstate every figure; and
its data and recipes: the mix the notebooks make, the peer's masking, the configs it runs."""

import importlib.util
from pathlib import Path

import torch

import qwen3lab  # noqa: F401  (conftest has imported Unsloth first: qwen3lab.bootstrap)

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


def test_flops_per_token_matches_the_issue_figure_and_notebook_05s_counts():
    """About 32.6 GFLOP per trained token at 2048 (4 x frozen + 6 x LoRA parameters + attention),
    from the parameter counts qwen3lab.model gives (the benchmark computes them itself: its peer's
    process does not import qwen3lab)."""
    from qwen3lab.model import expected_lora_parameters, projection_shapes
    from qwen3lab.tiny import QWEN3_8B

    assert abs(bench_train.flops_per_token(2048, QWEN3_8B) / 1e9 - 32.6) < 0.3
    shapes = projection_shapes(QWEN3_8B)
    frozen = QWEN3_8B["num_hidden_layers"] * sum(i * o for i, o in shapes.values()) + \
        QWEN3_8B["vocab_size"] * QWEN3_8B["hidden_size"]
    lora = expected_lora_parameters(QWEN3_8B, 32, list(shapes))
    assert lora == 87_293_952
    assert bench_train.flops_per_token(0, QWEN3_8B) == 4 * frozen + 6 * lora


def test_every_recipe_is_a_valid_full_profile_config_and_a_b_c_are_as_documented():
    from qwen3lab.config import PROFILES

    configs = {name: PROFILES["full"].replace(**spec["cfg"]) for name, spec in bench_train.RECIPES.items()}
    # (b) the source recipe as written; (c) the full profile's own loader, fitted to the card
    b, c = configs["b"], configs["c"]
    assert (b.unsloth_loader, b.per_device_train_batch_size, b.gradient_accumulation_steps) == \
        ("FastLanguageModel", 2, 4)
    assert (b.use_gradient_checkpointing, b.padding_free, b.speed_layer) == ("unsloth", False, False)
    assert (c.loader, c.speed_layer, c.fused_lora) == ("FastModel", True, True)
    assert not (b.fused_lora or configs["a"].fused_lora or configs["c-unfused"].fused_lora)
    assert configs["c-fused"].optim == "adamw_torch_fused"
    # (a) the plain transformers + PEFT peer: checkpointing, padded rows, 2 x 4
    assert [name for name, spec in bench_train.RECIPES.items() if spec.get("peer")] == ["a", "l"]
    # (l) the Liger peer: the same 8 rows a step, as one padding-free micro-batch
    liger = configs["l"]
    assert bench_train.RECIPES["l"]["liger"] and liger.padding_free and not liger.speed_layer
    assert liger.per_device_train_batch_size * liger.gradient_accumulation_steps == 8
    a = configs["a"]
    assert (a.use_gradient_checkpointing, a.padding_free, a.speed_layer) == (True, False, False)
    assert (a.per_device_train_batch_size, a.gradient_accumulation_steps) == (2, 4)


def test_the_peers_labels_keep_the_assistants_turns_and_their_end_token():
    response, end = [7, 8], 2  # "<|im_start|>assistant\n" and "<|im_end|>" as ids
    ids = [1, 5, 5, 2, 7, 8, 9, 9, 2, 1, 5, 2, 7, 8, 6]  # user, assistant, user, assistant cut short
    labels = bench_train.response_only_labels(ids, response, end)
    assert labels == [-100] * 6 + [9, 9, 2] + [-100] * 5 + [6]
    assert bench_train.response_only_labels([1, 5, 2], response, end) == [-100] * 3  # no reply: nothing trained


def test_the_mix_is_three_quarters_chat_rendered_with_the_template():
    import sys

    from qwen3lab.tiny import load_qwen3_tokenizer

    sys.path.insert(0, str(bench_train.ROOT / "tools"))
    from synth import synth_chat, synth_reasoning

    tokenizer = load_qwen3_tokenizer()
    reasoning, chat = synth_reasoning(8, seed=3407, scale="fixture"), synth_chat(30, seed=3407, scale="fixture")
    texts = bench_train.mixed_texts(reasoning, chat, tokenizer)
    assert len(texts) == 32  # 8 reasoning rows and 8 x 0.75 / 0.25 = 24 chat rows of the 30
    problems = [row["problem"] for row in reasoning]
    assert sum(any(p in text for p in problems) for text in texts) == 8
    assert all(text.startswith("<|im_start|>") and "<|im_start|>assistant\n" in text for text in texts)
    assert not any("<|im_start|>human" in text or "<|im_start|>gpt" in text for text in texts)
    assert texts == bench_train.mixed_texts(reasoning, chat, tokenizer)  # seeded: the same rows in the same order
