"""Guards the cleaning steps of notebook 03.

Fails when reasoning rows stop becoming (user, assistant) conversations; when ShareGPT roles
are mapped differently from Unsloth's ``standardize_sharegpt`` or an unknown role slips through
as anything but a ``DataError`` naming its row; when ``to_text`` stops producing exactly what
``tokenizer.apply_chat_template`` produces (on every bundled row, on both the fast renderer and
the fallback); when token lengths, problem-row dropping or the length policy (report, drop,
truncate) change; and when the "clean" stage can be left half-written or written with bad data.
"""

from __future__ import annotations

import sys

import pytest
from datasets import Dataset

import qwen3lab as q
from qwen3lab.data import clean


@pytest.fixture(scope="module")
def tokenizer():
    return q.load_qwen3_tokenizer()


@pytest.fixture(scope="module")
def raw():
    return q.load_datasets(q.get_config("tiny"))


@pytest.fixture(scope="module")
def cleaned(raw, tokenizer):
    reasoning, chat = raw
    reasoning = q.add_token_lengths(q.to_text(q.reasoning_to_conversations(reasoning), tokenizer), tokenizer)
    chat = q.add_token_lengths(q.to_text(q.standardize_sharegpt(chat), tokenizer, enable_thinking=False), tokenizer)
    return reasoning, chat


def sharegpt(*rows):
    return Dataset.from_dict({"conversations": list(rows)})


# -- reasoning rows --------------------------------------------------------------------------------


def test_reasoning_to_conversations(raw):
    reasoning = q.reasoning_to_conversations(raw[0])
    assert reasoning.column_names == list(raw[0].column_names) + ["conversations"]
    row = reasoning[7]
    assert row["conversations"] == [{"role": "user", "content": row["problem"]},
                                    {"role": "assistant", "content": row["generated_solution"]}]


def test_reasoning_bad_input():
    with pytest.raises(q.DataError, match=r"\['generated_solution'\] missing.*OpenMathReasoning"):
        q.reasoning_to_conversations(Dataset.from_dict({"problem": ["p"]}))
    with pytest.raises(q.DataError, match="column 'problem' has type int64; expected strings"):
        q.reasoning_to_conversations(Dataset.from_dict({"problem": [1], "generated_solution": ["s"]}))
    rows = {"problem": [None, "p"], "generated_solution": ["s", "t"]}
    with_none = q.reasoning_to_conversations(Dataset.from_dict(rows))
    assert [(p.row, p.field, p.kind) for p in q.validate_conversations(with_none).problems] == [
        (0, "conversations[0].content", "null_content")]


# -- ShareGPT -------------------------------------------------------------------------------------------


def test_standardize_sharegpt(raw):
    chat = q.standardize_sharegpt(raw[1])
    assert chat.column_names == raw[1].column_names
    assert q.role_counts(raw[1]) == {"gpt": 677, "human": 677, "system": 51}
    assert q.role_counts(chat) == {"assistant": 677, "user": 677, "system": 51}
    for before, after in zip(raw[1].select(range(20))["conversations"], chat.select(range(20))["conversations"]):
        assert [t["value"] for t in before] == [t["content"] for t in after]
    assert q.standardize_sharegpt(chat) is chat  # already role/content


def test_roles_case_and_spaces_and_nulls_kept():
    out = q.standardize_sharegpt(sharegpt([{"from": " Human", "value": "hi"}, {"from": "GPT", "value": "yo"}], None))
    assert out["conversations"] == [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], None]


def test_unknown_role_anywhere_is_a_data_error():
    rows = [[{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]] * 50
    rows.append([{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}])
    with pytest.raises(q.DataError, match=r"row 50, conversations\[1\]\.from = 'bot'"):
        q.standardize_sharegpt(sharegpt(*rows))
    with pytest.raises(q.DataError, match=r"row 0, conversations\[0\]\.from = None"):
        q.standardize_sharegpt(sharegpt([{"from": None, "value": "q"}]))
    with pytest.raises(q.DataError, match="expected ShareGPT"):
        q.standardize_sharegpt(sharegpt([{"speaker": "human", "text": "q"}]))


@pytest.mark.skipif("unsloth" not in sys.modules, reason="Unsloth is not the backend of this process")
def test_same_as_unsloth(raw):
    from unsloth.chat_templates import standardize_sharegpt as unsloth_standardize

    ours = q.standardize_sharegpt(raw[1])["conversations"]
    assert ours == unsloth_standardize(raw[1])["conversations"]


# -- the chat template ------------------------------------------------------------------------------------


def test_to_text_equals_apply_chat_template_on_every_row(cleaned, tokenizer):
    reasoning, chat = cleaned
    assert clean.uses_fast_template(tokenizer)
    for dataset, thinking in ((reasoning, True), (chat, False)):
        expected = [tokenizer.apply_chat_template(c, tokenize=False, enable_thinking=thinking)
                    for c in dataset["conversations"]]
        assert list(dataset["text"]) == expected


def test_first_rendered_rows(cleaned):
    text = cleaned[0][0]["text"]
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_end|>\n")
    assert "<|im_start|>assistant\n<think>\n" in text and "</think>\n\n" in text
    one_exchange = next(t for t, c in zip(cleaned[1]["text"], cleaned[1]["conversations"]) if len(c) == 2)
    assert "<|im_start|>assistant\n<think>\n\n</think>\n\n" in one_exchange  # the empty think block


def test_enable_thinking_does_not_change_training_rows(raw, tokenizer):
    chat = q.standardize_sharegpt(raw[1]).select(range(40))
    assert list(q.to_text(chat, tokenizer, enable_thinking=True)["text"]) == list(
        q.to_text(chat, tokenizer, enable_thinking=False)["text"])


def test_fallback_when_the_template_differs(raw, tokenizer):
    other = q.load_qwen3_tokenizer()
    other.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    assert not clean.uses_fast_template(other)
    chat = q.standardize_sharegpt(raw[1]).select(range(5))
    assert list(q.to_text(chat, other)["text"]) == [other.apply_chat_template(c, tokenize=False)
                                                    for c in chat["conversations"]]


def test_rows_the_template_cannot_render(tokenizer):
    for rows, words in (([[{"role": "user", "content": None}]], "row 0, conversations\\[0\\].content: is None"),
                        ([[{"role": "human", "content": "q"}]], "'human' is not one of"),
                        ([[{"role": "user", "content": "q"}], []], "row 1, conversations: has no turns")):
        with pytest.raises(q.DataError, match=words):
            q.to_text(Dataset.from_dict({"conversations": rows}), tokenizer)
    with pytest.raises(q.DataError, match="run reasoning_to_conversations / standardize_sharegpt first"):
        q.to_text(Dataset.from_dict({"text": ["x"]}), tokenizer)


def test_token_lengths(cleaned, tokenizer):
    for dataset in cleaned:
        assert list(dataset["n_tokens"]) == [len(ids) for ids in tokenizer(list(dataset["text"])).input_ids]
    with pytest.raises(q.DataError, match="run to_text first"):
        q.add_token_lengths(Dataset.from_dict({"conversations": [[]]}), tokenizer)


# -- dropping rows, length policy ----------------------------------------------------------------------------


def test_drop_problem_rows():
    good = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    data = Dataset.from_dict({"conversations": [good, [{"role": "user", "content": " "}], good, None],
                              "id": [0, 1, 2, 3]})
    report = q.validate_conversations(data)
    assert q.drop_problem_rows(data, report)["id"] == [0, 2]
    assert q.drop_problem_rows(data, report, kinds=("null_conversation",))["id"] == [0, 1, 2]
    with pytest.raises(q.DataError, match="the report is about 4 rows"):
        q.drop_problem_rows(data.select([0]), report)
    with pytest.raises(q.DataError, match="unknown problem kind"):
        q.drop_problem_rows(data, report, kinds=("typo",))


def test_length_policies(cleaned, tokenizer):
    reasoning = cleaned[0]
    limit = 250
    over = sum(n > limit for n in reasoning["n_tokens"])
    assert 0 < over < len(reasoning)
    assert q.apply_length_policy(reasoning, max_seq_length=limit, policy="report") is reasoning
    dropped = q.apply_length_policy(reasoning, max_seq_length=limit, policy="drop")
    assert len(dropped) == len(reasoning) - over and max(dropped["n_tokens"]) <= limit
    cut = q.apply_length_policy(reasoning, max_seq_length=limit, policy="truncate", tokenizer=tokenizer)
    assert len(cut) == len(reasoning) and max(cut["n_tokens"]) <= limit
    for before, after, n in zip(reasoning["text"], cut["text"], cut["n_tokens"]):
        assert before.startswith(after) and n == len(tokenizer(after).input_ids)
    assert cut["conversations"] == reasoning["conversations"]
    with pytest.raises(q.DataError, match="needs the tokenizer"):
        q.apply_length_policy(reasoning, max_seq_length=limit, policy="truncate")
    with pytest.raises(q.DataError, match="length_policy='cut'"):
        q.apply_length_policy(reasoning, max_seq_length=limit, policy="cut")


def test_truncate_text_never_exceeds(tokenizer):
    text = "中文句子😀" * 50
    for limit in (1, 7, 33):
        cut = clean.truncate_text(text, tokenizer, limit)
        assert text.startswith(cut) and len(tokenizer(cut).input_ids) <= limit


# -- the "clean" stage -----------------------------------------------------------------------------------------


def test_save_and_load_clean(home, cleaned):
    cfg = q.get_config("tiny")
    with pytest.raises(q.MissingArtifactError, match="03_dataset_cleaning"):
        q.load_clean()
    out_dir = q.save_clean(*cleaned, cfg)
    assert sorted(p.name for p in out_dir.iterdir()) == ["chat", "manifest.json", "reasoning"]
    manifest = q.read_manifest("clean")
    assert manifest["rows"] == {"reasoning": 240, "chat": 480} and manifest["length_policy"] == "drop"
    reasoning, chat = q.load_clean()
    assert list(reasoning["text"]) == list(cleaned[0]["text"]) and chat.column_names == cleaned[1].column_names


def test_save_clean_refuses_bad_data_and_writes_nothing(home, cleaned):
    cfg = q.get_config("tiny")
    broken = cleaned[1].select(range(3)).map(lambda r: {"conversations": r["conversations"][:1]})
    for reasoning, chat, words in ((cleaned[0], broken, "still has problems"),
                                   (cleaned[0].select([]), cleaned[1], "no rows left"),
                                   (cleaned[0].remove_columns("n_tokens"), cleaned[1], "add_token_lengths")):
        with pytest.raises(q.DataError, match=words):
            q.save_clean(reasoning, chat, cfg)
        assert not home.exists() or not any(home.rglob("*"))


def test_interrupted_save_leaves_the_old_stage(home, cleaned):
    cfg = q.get_config("tiny")
    first = q.save_clean(*cleaned, cfg)
    before = q.read_manifest("clean")["created"]

    class Broken:
        def savefig(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        q.save_clean(*cleaned, cfg, figures={"lengths.png": Broken()})
    assert q.read_manifest("clean")["created"] == before
    assert sorted(p.name for p in first.parent.iterdir()) == ["clean"]  # no temporary folder left
