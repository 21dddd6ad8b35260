"""Guards the validation report and the token counter.

Fails when a malformed conversation (wrong types, missing columns, unknown roles, empty or
whitespace-only turns, None values, a system turn in the middle, non-alternating turns, a
conversation that does not end with the assistant, a row longer than max_seq_length) is no
longer caught with its row index and field, or is caught with a bare error instead of a
``DataError``; and when the fast token counter stops agreeing with the tokenizer, token for
token, on the bundled rows and on the edge cases of the Qwen pre-tokenizer pattern.
"""

from __future__ import annotations

import pytest
from datasets import Dataset

import qwen3lab as q
from qwen3lab.data.validate import TokenCounter


def convs(*rows):
    return Dataset.from_dict({"conversations": list(rows)})


def turn(role, content):
    return {"role": role, "content": content}


GOOD = [turn("system", "s"), turn("user", "u"), turn("assistant", "a")]


@pytest.fixture(scope="module")
def tokenizer():
    return q.load_qwen3_tokenizer()


def only_problem(dataset, **kwargs):
    report = q.validate_conversations(dataset, **kwargs)
    assert len(report.problems) == 1, report.summary()
    return report.problems[0]


# -- data sets that cannot be checked at all: DataError --------------------------------------------


def test_not_a_dataset():
    with pytest.raises(q.DataError, match="expected a datasets.Dataset, got list"):
        q.validate_conversations([{"conversations": GOOD}])


def test_missing_column():
    with pytest.raises(q.DataError, match=r"column\(s\) \['conversations'\] missing.*reasoning_to_conversations"):
        q.validate_conversations(Dataset.from_dict({"problem": ["p"]}))


def test_column_of_the_wrong_type():
    with pytest.raises(q.DataError, match="has type string; expected a list"):
        q.validate_conversations(Dataset.from_dict({"conversations": ["user: hi"]}))


def test_sharegpt_fields_point_to_standardize():
    with pytest.raises(q.DataError, match="missing \\['role', 'content'\\].*standardize_sharegpt"):
        q.validate_conversations(convs([{"from": "human", "value": "hi"}]))


@pytest.mark.parametrize("bad", [0, -5, 1.5, "1024", True])
def test_bad_max_seq_length(bad, tokenizer):
    with pytest.raises(q.DataError, match="max_seq_length"):
        q.validate_conversations(convs(GOOD), tokenizer, max_seq_length=bad)


def test_lengths_need_text_or_n_tokens(tokenizer):
    with pytest.raises(q.DataError, match="run to_text first"):
        q.validate_conversations(convs(GOOD), tokenizer, max_seq_length=8)
    with pytest.raises(q.DataError, match="needs the tokenizer"):
        q.validate_conversations(convs(GOOD).add_column("text", ["x"]), None, max_seq_length=8)


# -- one report entry per malformed row, naming row and field ---------------------------------------


@pytest.mark.parametrize("row, kind, field, words", [
    ([turn("user", "u"), turn("bot", "a")], "unknown_role", "conversations[1].role", "'bot' is not one of"),
    ([turn("user", ""), turn("assistant", "a")], "empty_content", "conversations[0].content", "is empty"),
    ([turn("user", " \n\t"), turn("assistant", "a")], "empty_content", "conversations[0].content", "whitespace only"),
    ([turn("user", None), turn("assistant", "a")], "null_content", "conversations[0].content", "is None"),
    ([turn("user", "u"), turn("assistant", "a"), turn("system", "s"), turn("user", "v"), turn("assistant", "b")],
     "system_not_first", "conversations[2].role", "system turn at position 2"),
    ([turn("user", "u"), turn("user", "v"), turn("assistant", "a")], "repeated_role", "conversations[1].role",
     "a second user turn in a row"),
    ([turn("user", "u"), turn("assistant", "a"), turn("user", "v")], "last_not_assistant", "conversations[2].role",
     "the last turn is by the user"),
    ([turn("assistant", "a"), turn("user", "u"), turn("assistant", "b")], "first_not_user", "conversations[0].role",
     "opens with the assistant"),
])
def test_one_problem_per_row(row, kind, field, words):
    problem = only_problem(convs(GOOD, row))
    assert (problem.row, problem.kind, problem.field) == (1, kind, field)
    assert words in problem.message and str(problem).startswith(f"row 1, {field}: ")


def test_none_and_empty_conversations_and_turns():
    report = q.validate_conversations(convs(GOOD, None, [], [None, turn("assistant", "a")]))
    assert [(p.row, p.field, p.kind) for p in report.problems] == [
        (1, "conversations", "null_conversation"),
        (2, "conversations", "empty_conversation"),
        (3, "conversations[0]", "null_turn"),
    ]


def test_non_string_content_and_roles():
    report = q.validate_conversations(convs([turn("user", 5), turn("assistant", 6)]))
    assert {p.kind for p in report.problems} == {"non_string_content"} and len(report.problems) == 2
    assert "is int64 (5), not a string" in report.problems[0].message
    report = q.validate_conversations(convs([{"role": 1, "content": "u"}, {"role": 2, "content": "a"}]))
    assert [p.kind for p in report.problems] == ["unknown_role", "unknown_role"]


def test_huge_row_is_reported_with_its_length(tokenizer):
    text = "<|im_start|>user\n" + "word " * 5000 + "<|im_end|>\n"
    dataset = convs(GOOD, GOOD).add_column("text", ["short", text])
    problem = only_problem(dataset, tokenizer=tokenizer, max_seq_length=1024)
    assert (problem.row, problem.field, problem.kind) == (1, "text", "too_long")
    assert problem.message == f"{len(tokenizer(text).input_ids)} tokens > max_seq_length 1024"
    n_tokens = dataset.add_column("n_tokens", [3, 2000])  # lengths already counted are reused
    assert only_problem(n_tokens, tokenizer=None, max_seq_length=1024).message == "2000 tokens > max_seq_length 1024"


def test_report_api():
    report = q.validate_conversations(convs(GOOD, [turn("user", "")], GOOD, [turn("user", "u")]))
    assert not report.ok and report.n_rows == 4
    assert report.counts() == {"empty_content": 1, "last_not_assistant": 2}
    assert report.rows() == [1, 3] and report.rows("empty_content") == [1]
    text = report.summary()
    assert "3 problems in 2 rows" in text and "row 1, conversations[0].content: is empty" in text
    assert list(report.to_pandas().columns) == ["row", "field", "kind", "message"]
    assert q.validate_conversations(convs(GOOD)).summary() == "1 rows checked: no problems"


def test_whole_data_set_is_checked_not_a_sample():
    rows = [GOOD] * 5000 + [[turn("user", "u"), turn("gpt", "a")]]
    assert q.validate_conversations(convs(*rows)).rows("unknown_role") == [5000]


def test_bundled_rows_are_clean():
    reasoning, chat = q.load_datasets(q.get_config("tiny"))
    assert q.validate_conversations(q.reasoning_to_conversations(reasoning)).ok
    assert q.validate_conversations(q.standardize_sharegpt(chat)).ok


# -- token counts -------------------------------------------------------------------------------------

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
    reasoning, chat = q.load_datasets(q.get_config("tiny"))
    texts = list(q.to_text(q.reasoning_to_conversations(reasoning), tokenizer)["text"])
    texts += list(q.to_text(q.standardize_sharegpt(chat), tokenizer, enable_thinking=False)["text"])
    assert list(q.count_tokens(texts, tokenizer)) == [len(ids) for ids in tokenizer(texts).input_ids]


def test_other_tokenizers_are_simply_called():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    other = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    assert not TokenCounter(other).fast
    assert list(q.count_tokens(["a b", "a b c d", ""], other)) == [2, 4, 0]


def test_length_stats(tokenizer):
    a = Dataset.from_dict({"n_tokens": [10, 20, 30, 4000]})
    b = Dataset.from_dict({"n_tokens": [5, 5]})
    stats = q.length_stats({"reasoning": a, "chat": b}, max_seq_length=1024)
    assert stats.loc["reasoning"].to_dict() == {"rows": 4, "tokens": 4060, "mean": 1015.0, "p50": 20, "p90": 30,
                                                 "p99": 30, "max": 4000, "> 1024": 1}
    mixed = Dataset.from_dict({"n_tokens": [1, 2, 3], "source": ["chat", "reasoning", "chat"]})
    assert q.length_stats(mixed)["rows"].to_dict() == {"chat": 2, "reasoning": 1}
    with pytest.raises(q.DataError, match="add_token_lengths"):
        q.length_stats({"chat": Dataset.from_dict({"text": ["x"]})})


def test_counting_in_forked_processes(tokenizer):
    import pyarrow as pa

    texts = [f"第 {i} 行 row {i}:  " + "word " * (i % 50) for i in range(2400)]
    expected = [len(ids) for ids in tokenizer(texts).input_ids]
    assert list(q.count_tokens(pa.chunked_array([texts[:1000], texts[1000:]]), tokenizer, num_proc=2)) == expected
    assert list(q.count_tokens(texts, tokenizer, num_proc=2)) == expected
