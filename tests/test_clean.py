"""Guards what notebook 03 measures after the chat template: token lengths and the length policy.

Fails when ``count_tokens`` stops agreeing with ``len(tokenizer(text).input_ids)``, token for
token, on every bundled row rendered with ``tokenizer.apply_chat_template`` and on the edge cases
of the Qwen pre-tokenizer pattern (the fast counter), or for another kind of tokenizer; when the
length table changes its columns or numbers; and when the length policy keeps a row it should
drop, drops one it should keep, or accepts a policy or lengths it cannot apply.
"""

from __future__ import annotations

import numpy as np
import pytest
from datasets import load_dataset

import qwen3lab as q
from qwen3lab.data.clean import TokenCounter


@pytest.fixture(scope="module")
def tokenizer():
    return q.load_qwen3_tokenizer()


EDGE = ["", " ", "  ", "a ", " a", "a  b", "a\n b", "a\t b", "x \u0301y", "e\u0301 ", "<think> a </think> ",
        "a\u00a0 b", "a \u00a0b", "1 2 3  ", "'s 's 'S 'LL", " \n", "a \n\n b  \n", "\u3000 a", "a\u3000 b", " \u0301",
        "\n\n  \n x", "中文 ，句子。 \n 下一行", "<|im_start|>user\n  hi<|im_end|>\n", "\x1c \x1d a",
        "x\r\n y",
        "emoji 😀 😀😀 ", "tab\t\tend", "   leading", "trailing   ", "<|im_end|><|im_end|>", "<think></think>",
        "price: $5.00 (50%)!!", "  \u2028  x", "a\u0085 b", "ſ 's", "Ⅻ ½ ³"]


def test_counter_equals_tokenizer_on_edge_cases(tokenizer):
    counter = TokenCounter(tokenizer)
    assert counter.fast
    assert list(counter(EDGE)) == [len(ids) for ids in tokenizer(EDGE).input_ids]


def test_counter_equals_tokenizer_on_every_bundled_row(tokenizer):
    cfg = q.get_config("tiny")
    reasoning = load_dataset(cfg.reasoning_dataset, split=cfg.reasoning_split)
    chat = load_dataset(cfg.chat_dataset, split=cfg.chat_split)
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    conversations = [[{"role": "user", "content": p}, {"role": "assistant", "content": s}]
                     for p, s in zip(reasoning["problem"], reasoning["generated_solution"])]
    conversations += [[{"role": roles[t["from"]], "content": t["value"]} for t in c] for c in chat["conversations"]]
    texts = tokenizer.apply_chat_template(conversations, tokenize=False)
    assert len(texts) == 720
    assert list(q.count_tokens(texts, tokenizer)) == [len(ids) for ids in tokenizer(texts).input_ids]


def test_other_tokenizers_are_simply_called():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    other = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    assert not TokenCounter(other).fast
    assert list(q.count_tokens(["a b", "a b c d", ""], other)) == [2, 4, 0]


def test_length_stats():
    stats = q.length_stats({"reasoning": [10, 20, 30, 4000], "chat": np.array([5, 5])}, max_seq_length=1024)
    assert stats.loc["reasoning"].to_dict() == {"rows": 4, "tokens": 4060, "mean": 1015.0, "p50": 20, "p90": 30,
                                                 "p99": 30, "max": 4000, "> 1024": 1}
    assert list(stats.index) == ["reasoning", "chat"] and stats.loc["chat", "max"] == 5
    assert "> 1024" not in q.length_stats({"chat": [1]}).columns


def test_length_policy():
    texts, lengths = ["a", "b", "c", "d"], [10, 2000, 1024, 1025]
    kept, kept_lengths = q.apply_length_policy(texts, lengths, max_seq_length=1024, policy="drop")
    assert kept == ["a", "c"] and list(kept_lengths) == [10, 1024]  # at the limit stays
    kept, kept_lengths = q.apply_length_policy(texts, lengths, max_seq_length=1024, policy="report")
    assert kept == texts and list(kept_lengths) == lengths
    with pytest.raises(q.DataError, match="length_policy='truncate' is not one of \\['report', 'drop'\\]"):
        q.apply_length_policy(texts, lengths, max_seq_length=1024, policy="truncate")
    with pytest.raises(q.DataError, match="4 texts but 3 lengths"):
        q.apply_length_policy(texts, lengths[:3], max_seq_length=1024, policy="drop")
