"""Guards the strings the model sees and the parsing of what it writes: the exact Qwen3 chat-template
output in both thinking modes and across turns, the padded tensors built from it, Qwen's sampling
settings, ``split_thinking`` on every shape of reply, and ``reply`` (the side-by-side tables of 06)
returning clean, repeatable text."""

import pytest

from qwen3lab.chat import SAMPLING, batch_table, reply, split_thinking, token_table
from qwen3lab.tiny import load_qwen3_tokenizer

HELLO = [{"role": "user", "content": "你好，好久不见！"}]
HISTORY = [
    {"role": "user", "content": "1+1 等于几？"},
    {"role": "assistant", "content": "<think>\n两个一相加。\n</think>\n\n等于 2。"},
    {"role": "user", "content": "再乘以 3 呢？"},
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


def render_chat(tokenizer, messages, *, enable_thinking, add_generation_prompt=True):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         enable_thinking=enable_thinking)


def encode_chats(tokenizer, conversations, *, enable_thinking):
    """As notebook 02 does: render each conversation, tokenize them together, padded."""
    texts = [render_chat(tokenizer, c, enable_thinking=enable_thinking) for c in conversations]
    return tokenizer(texts, return_tensors="pt", padding=True)


# -- the template ------------------------------------------------------------------------------


def test_non_thinking_prompt_ends_with_an_empty_think_block(tokenizer):
    assert render_chat(tokenizer, HELLO, enable_thinking=False) == (
        "<|im_start|>user\n你好，好久不见！<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_thinking_prompt_leaves_the_assistant_turn_open(tokenizer):
    assert render_chat(tokenizer, HELLO, enable_thinking=True) == (
        "<|im_start|>user\n你好，好久不见！<|im_end|>\n<|im_start|>assistant\n")


def test_system_prompt_and_no_generation_prompt(tokenizer):
    messages = [{"role": "system", "content": "你是助手。"}] + HELLO
    assert render_chat(tokenizer, messages, enable_thinking=False, add_generation_prompt=False) == (
        "<|im_start|>system\n你是助手。<|im_end|>\n<|im_start|>user\n你好，好久不见！<|im_end|>\n")


def test_earlier_turns_lose_their_reasoning(tokenizer):
    assert render_chat(tokenizer, HISTORY, enable_thinking=True) == (
        "<|im_start|>user\n1+1 等于几？<|im_end|>\n"
        "<|im_start|>assistant\n等于 2。<|im_end|>\n"
        "<|im_start|>user\n再乘以 3 呢？<|im_end|>\n"
        "<|im_start|>assistant\n")


def test_last_assistant_turn_keeps_reasoning_or_gets_an_empty_block(tokenizer):
    kept = render_chat(tokenizer, HISTORY[:2], enable_thinking=True, add_generation_prompt=False)
    assert kept == ("<|im_start|>user\n1+1 等于几？<|im_end|>\n"
                    "<|im_start|>assistant\n<think>\n两个一相加。\n</think>\n\n等于 2。<|im_end|>\n")
    plain = render_chat(tokenizer, [HISTORY[0], {"role": "assistant", "content": "等于 2。"}],
                        enable_thinking=False, add_generation_prompt=False)
    assert plain.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n等于 2。<|im_end|>\n")


# -- tensors ---------------------------------------------------------------------------------------


def test_encode_chats_pads_on_the_tokenizer_side_without_extra_tokens(tokenizer):
    batch = encode_chats(tokenizer, [HELLO, [{"role": "user", "content": "嗨"}]], enable_thinking=False)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape == (2, 17)
    assert ids[0].tolist() == [151644, 872, 198, 108386, 3837, 111920, 101571, 6313, 151645, 198,
                               151644, 77091, 198, 151667, 271, 151668, 271]
    assert ids[1, :4].tolist() == [151654] * 4 and mask[1].tolist() == [0] * 4 + [1] * 13
    assert bool(mask[0].all())


def test_batch_and_token_tables(tokenizer):
    batch = encode_chats(tokenizer, [HELLO], enable_thinking=True)
    table = batch_table(batch)
    assert list(table.index) == ["input_ids", "attention_mask"]
    assert table.loc["input_ids", "shape"] == (1, 13) and table.loc["input_ids", "dtype"] == "int64"
    tokens = token_table(tokenizer, batch)
    assert tokens["token"].tolist()[:4] == ["<|im_start|>", "user", "\n", "你好"]
    assert tokens["attention_mask"].tolist() == [1] * 13


def test_sampling_is_qwens_recommendation():
    assert SAMPLING[True] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    assert SAMPLING[False] == {"temperature": 0.7, "top_p": 0.8, "top_k": 20}


# -- split_thinking -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("<think>\n推理\n</think>\n\n回答", ("推理", "回答")),
    ("<think>\n\n</think>\n\n回答", ("", "回答")),  # non-thinking mode
    ("推理\n</think>\n\n回答", ("推理", "回答")),  # decoded from inside the block
    ("<think>\n推理没写完", ("推理没写完", "")),  # stopped by max_new_tokens
    ("只有回答", ("", "只有回答")),
    ("", ("", "")),
    ("<think>推理</think>回答<|im_end|><|endoftext|>", ("推理", "回答")),  # control tokens left in
    ("<think>一</think>回答<think>二</think>结尾", ("一\n\n二", "回答\n\n结尾")),  # several blocks
    ("前言<think>推理</think>回答", ("推理", "前言\n\n回答")),
    ("</think>回答", ("", "回答")),
    ("<think></think>", ("", "")),
])
def test_split_thinking(text, expected):
    assert split_thinking(text) == expected


def test_split_thinking_keeps_other_tags():
    thinking, answer = split_thinking("<think>x</think><tool_call>\n{}\n</tool_call>")
    assert (thinking, answer) == ("x", "<tool_call>\n{}\n</tool_call>")


# -- chat with the tiny model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model unquantized, straight from transformers (chat must not depend on the backend)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from qwen3lab.config import get_config
    from qwen3lab.tiny import build_tiny_model

    path = build_tiny_model(get_config("tiny"), tmp_path_factory.mktemp("tiny") / "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(path), tokenizer


def test_reply_returns_new_text_only_and_repeats_with_a_seed(tiny):
    model, tokenizer = tiny
    first = reply(model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=8)
    second = reply(model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=8)
    assert isinstance(first, str) and first and first == second
    assert "<|im_end|>" not in first and "你好，好久不见" not in first
    other = reply(model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=8, seed=1)
    assert other != first  # sampled, not greedy


def test_reply_in_thinking_mode_splits(tiny):
    model, tokenizer = tiny
    thinking, answer = split_thinking(reply(model, tokenizer, HELLO, enable_thinking=True, max_new_tokens=6))
    assert isinstance(thinking, str) and isinstance(answer, str)
