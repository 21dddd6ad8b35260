"""Guards the offline stand-in for Qwen3-8B: the real tokenizer (vocabulary, special tokens, the
exact chat-template strings), and a tiny model with Qwen3's architecture, built deterministically."""

import json

import pytest

from qwen3lab.config import get_config
from qwen3lab.tiny import QWEN3_8B, build_tiny_model, load_qwen3_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


def test_real_tokenizer_facts(tokenizer):
    assert len(tokenizer) == 151_669
    assert tokenizer.vocab_size == 151_643
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", 151_645)
    assert (tokenizer.pad_token, tokenizer.pad_token_id, tokenizer.padding_side) == ("<|vision_pad|>", 151_654, "left")
    added = tokenizer.added_tokens_decoder
    assert sorted(added) == list(range(151_643, 151_669))
    assert added[151_667].content == "<think>" and added[151_668].content == "</think>"


def test_template_without_thinking(tokenizer):
    text = tokenizer.apply_chat_template([{"role": "user", "content": "你好，好久不见！"}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=False)
    assert text == "<|im_start|>user\n你好，好久不见！<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def test_template_with_thinking(tokenizer):
    text = tokenizer.apply_chat_template([{"role": "user", "content": "你好，好久不见！"}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=True)
    assert text == "<|im_start|>user\n你好，好久不见！<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_model_is_qwen3_shaped_and_deterministic(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    cfg = get_config("tiny")
    first = build_tiny_model(cfg, tmp_path / "a")
    second = build_tiny_model(cfg, tmp_path / "b")
    config = json.loads((first / "config.json").read_text())
    assert config["model_type"] == "qwen3" and config["vocab_size"] == QWEN3_8B["vocab_size"]
    assert config["num_hidden_layers"] == cfg.tiny_num_hidden_layers
    assert config["num_attention_heads"] > config["num_key_value_heads"]  # grouped-query attention
    assert config["tie_word_embeddings"] is False
    assert (config["eos_token_id"], config["pad_token_id"]) == (151_645, 151_654)
    generation = json.loads((first / "generation_config.json").read_text())  # as Qwen3-8B's: samples
    assert {k: generation[k] for k in ("do_sample", "temperature", "top_p", "top_k")} == \
        {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}
    assert generation["eos_token_id"] == [151_645, 151_643]
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(first).padding_side == "left"  # as Unsloth's Qwen3-8B
    a = AutoModelForCausalLM.from_pretrained(first)
    b = AutoModelForCausalLM.from_pretrained(second)
    assert hasattr(a.model.layers[0].self_attn, "q_norm") and hasattr(a.model.layers[0].self_attn, "k_norm")
    assert a.model.layers[0].mlp.act_fn.__class__.__name__ == "SiLUActivation"
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    assert sum(p.numel() for p in a.parameters()) < 25_000_000


def test_cached_model_is_reused_and_rebuilt_when_shape_changes(tmp_path):
    cfg = get_config("tiny")
    out = build_tiny_model(cfg, tmp_path / "m")
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(cfg, out) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    build_tiny_model(cfg.replace(tiny_num_hidden_layers=3), out)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 3


def test_a_cut_cached_config_rebuilds_the_model_instead_of_a_bare_json_error(tmp_path):
    cfg = get_config("tiny")
    out = build_tiny_model(cfg, tmp_path / "m")
    whole = (out / "config.json").read_text()
    (out / "config.json").write_text(whole[: len(whole) // 2])  # cut, as a full disk or a kill leaves it
    assert build_tiny_model(cfg, out) == out
    assert json.loads((out / "config.json").read_text()) == json.loads(whole)
