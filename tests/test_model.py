"""Guards the structure functions of 01_model_inspection: numbers measured from the modules (not
typed in) that agree with the config, parameter counts that stay right for 4-bit layers, tied
weights and PEFT-wrapped models, LoRA targets found rather than listed, the Qwen3-8B skeleton,
and the tokenizer facts and added-token roles the notebook prints."""

import pytest

from qwen3lab.config import get_config
from qwen3lab.model import (TOKEN_ROLES, added_tokens_table, architecture_facts, architecture_table,
                            count_parameters, decoder_layers, lora_target_modules, model_name_or_path,
                            lora_targets_table, parameter_table, qwen3_8b_skeleton,
                            tokenizer_facts)
from qwen3lab.tiny import QWEN3_8B, tiny_qwen3_config

SEVEN = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
TINY_PARAMETERS = 19_546_496


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, monkeypatch_module):
    """The tiny profile as the notebooks load it: Unsloth's FastLanguageModel, 4-bit."""
    from unsloth import FastLanguageModel

    monkeypatch_module.setenv("QWEN3LAB_HOME", str(tmp_path_factory.mktemp("home")))
    cfg = get_config("tiny")
    return FastLanguageModel.from_pretrained(model_name=model_name_or_path(cfg), max_seq_length=cfg.max_seq_length,
                                             dtype=None, load_in_4bit=cfg.load_in_4bit)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def skeleton():
    return qwen3_8b_skeleton()


def _meta_model(**changes):
    import torch
    from transformers import Qwen3ForCausalLM

    config = tiny_qwen3_config(get_config("tiny"))
    for key, value in changes.items():
        setattr(config, key, value)
    with torch.device("meta"):
        return Qwen3ForCausalLM(config)


def test_facts_are_measured_and_match_the_config(loaded):
    model, _ = loaded
    cfg = get_config("tiny")
    facts = architecture_facts(model)
    assert facts == {
        "vocab_size": 151_936, "hidden_size": cfg.tiny_hidden_size, "padding_idx": 151_654,
        "num_hidden_layers": cfg.tiny_num_hidden_layers, "head_dim": cfg.tiny_head_dim,
        "num_attention_heads": cfg.tiny_num_attention_heads, "num_key_value_heads": cfg.tiny_num_key_value_heads,
        "queries_per_kv_head": cfg.tiny_num_attention_heads // cfg.tiny_num_key_value_heads,
        "intermediate_size": cfg.tiny_intermediate_size, "tie_word_embeddings": False,
        "parameters": TINY_PARAMETERS,
    }
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "head_dim", "intermediate_size"):
        assert facts[key] == getattr(model.config, key)


def test_4bit_layers_are_counted_at_full_size(loaded):
    model, _ = loaded
    q_proj = decoder_layers(model)[0].self_attn.q_proj
    assert type(q_proj).__name__ == "Linear4bit" and q_proj.weight.numel() * 2 == 64 * 64
    assert count_parameters(model) == TINY_PARAMETERS == sum(p.numel() for p in _meta_model().parameters())
    table = parameter_table(model)
    assert table.loc["total", "params"] == TINY_PARAMETERS and table.loc["total", "share"] == 100.0
    assert table.loc["q_proj", "modules"] == 2 and table.loc["q_proj", "params"] == 2 * 64 * 64
    assert table.drop(index="total")["params"].sum() == TINY_PARAMETERS


def test_lora_targets_are_the_seven_4bit_linears(loaded):
    model, _ = loaded
    assert lora_target_modules(model) == SEVEN
    table = lora_targets_table(model, r=32)
    assert list(table.index) == SEVEN and set(table["type"]) == {"Linear4bit"}
    assert table.loc["k_proj", "shape"] == "64 → 32" and table.loc["k_proj", "lora_params"] == 2 * 32 * (64 + 32)


def test_the_tokenizer_pads_with_unsloths_pad_token(loaded):
    _, tokenizer = loaded
    assert tokenizer.pad_token == "<|vision_pad|>" and tokenizer.pad_token_id == 151_654


def test_qwen3_8b_skeleton_matches_the_model_card(skeleton):
    facts = architecture_facts(skeleton)
    assert next(skeleton.parameters()).device.type == "meta"
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "head_dim", "intermediate_size"):
        assert facts[key] == QWEN3_8B[key], key
    assert facts["padding_idx"] == 151_654 and facts["tie_word_embeddings"] is False
    assert facts["parameters"] == 8_190_735_360  # "8.2B", 6.95B without embedding and LM head
    assert facts["parameters"] - 2 * 151_936 * 4096 == 6_946_075_648
    assert lora_targets_table(skeleton, r=32)["lora_params"].sum() == 87_293_952


def test_architecture_table_marks_what_differs(loaded, skeleton):
    table = architecture_table(tiny=loaded[0], qwen3_8b=skeleton)
    assert list(table.columns) == ["tiny", "qwen3_8b", "same"]
    assert set(table.index[table["same"]]) == {"vocab_size", "padding_idx", "tie_word_embeddings"}


def test_tied_weights_are_counted_once():
    tied = _meta_model(tie_word_embeddings=True)
    tied.tie_weights()
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert count_parameters(tied) == sum(p.numel() for p in tied.parameters())  # parameters() dedups too
    assert "lm_head" not in parameter_table(tied).index
    assert architecture_facts(tied)["tie_word_embeddings"] is True


def test_peft_wrapped_model_keeps_targets_and_counts():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(0)
    model = Qwen3ForCausalLM(tiny_qwen3_config(get_config("tiny").replace(tiny_num_hidden_layers=1)))
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=SEVEN, task_type="CAUSAL_LM"))
    assert lora_target_modules(peft_model) == SEVEN
    assert len(decoder_layers(peft_model)) == 1
    table = parameter_table(peft_model)
    assert {"lora_A", "lora_B", "q_proj"} <= set(table.index) and "base_layer" not in table.index
    assert table.loc["lora_A", "modules"] == 7
    assert table.loc["total", "params"] == sum(p.numel() for p in peft_model.parameters())
    assert lora_targets_table(peft_model, r=4)["type"].eq("Linear").all()


def test_decoder_layers_says_what_is_wrong():
    import torch

    with pytest.raises(ValueError, match="no `layers`"):
        decoder_layers(torch.nn.Linear(2, 2))


def test_tokenizer_facts_and_added_tokens(loaded):
    _, tokenizer = loaded
    facts = tokenizer_facts(tokenizer)
    assert facts["vocab_size"] == 151_643 and facts["len(tokenizer)"] == 151_669 and facts["added_tokens"] == 26
    assert (facts["eos_token"], facts["eos_token_id"]) == ("<|im_end|>", 151_645)
    assert (facts["bos_token"], facts["unk_token"], facts["has_chat_template"]) == (None, None, True)
    assert facts["is_fast"] and facts["truncation_side"] == "right"
    assert "model_max_length" not in facts and "padding_side" not in facts  # the loader's: never in a checked cell
    table = added_tokens_table(tokenizer)
    assert list(table.index) == list(range(151_643, 151_669))
    assert set(table["token"]) == set(TOKEN_ROLES)  # every added token has a role
    assert table.loc[151_645, "use"] == "eos" and table.loc[151_654, "use"] == "pad"
    assert table["special"].sum() == 14 and not table.loc[151_667, "special"]


def test_unsloth_turns_off_bitsandbytes_cpu_repacking(loaded):
    """bitsandbytes on a CPU with avx512_bf16 repacks 4-bit weights on the first no-grad forward,
    after which LoRA gradients are wrong (../shared/cpu-facts.md, trap 2). Unsloth's CPU backend
    turns the repacking off itself when it loads, so the notebooks need no workaround; this fails
    if it stops doing so."""
    model, _ = loaded
    layers = [m for m in model.modules() if type(m).__name__ == "Linear4bit"]
    assert len(layers) == 14
    assert {m.support_avx512bf16_for_cpu for m in layers} == {False}
