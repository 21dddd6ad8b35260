"""Guards notebook 07's scoring: the final answer is the last complete \\boxed{} (nested braces kept),
equivalent forms of one number match and different numbers do not, math-verify still answers from a
worker thread (its signal-based time limit raises there), the format checks tell each mode's shape
from its failures, generated rows are cut at their stop token, and the before/after table and plot
keep their shape."""

from __future__ import annotations

import threading

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from qwen3lab.evaluate import (EVAL_METRICS, answers_match, eval_summary, eval_table, extract_answer,  # noqa: E402
                               format_problem, reply_records, score_records)
from qwen3lab.plots import plot_eval  # noqa: E402


@pytest.mark.parametrize("text, answer", [
    ("no answer here", None),
    ("", None),
    (None, None),
    ("first \\boxed{1}, then \\boxed{2}", "2"),
    ("so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
    ("\\boxed{\\{1, \\{2\\}\\}} and more {text}", "\\{1, \\{2\\}\\}"),
    ("\\boxed{ 75 }", "75"),
    ("\\boxed{3} then cut off: \\boxed{\\frac{1}{", "3"),  # the last box never closed
    ("\\boxed{x^{2}}", "x^{2}"),
])
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize("prediction, gold", [
    ("\\frac{1}{2}", "0.5"), ("1,000", "1000"), ("x=3", "3"), ("3", "x = 3"), ("\\dfrac12", "1/2"),
    ("75", "75"), ("$-741$", "-741"), ("\\frac{\\pi}{2}", "\\pi/2"), ("(1,2)", "(1, 2)"),
])
def test_equivalent_answers_match(prediction, gold):
    assert answers_match(prediction, gold)


@pytest.mark.parametrize("prediction, gold", [("2", "3"), ("3", "33"), ("-2", "2"), (None, "3"), ("", "3"),
                                              ("abc", "3"), ("3", None)])
def test_different_answers_do_not_match(prediction, gold):
    assert not answers_match(prediction, gold)


def test_answers_match_outside_the_main_thread():
    from math_verify import parse

    results, errors = {}, []

    def work():
        try:
            parse("$0.5$")  # math-verify's default time limit: signal.alarm, main thread only
        except ValueError as err:
            errors.append(err)
        results["match"] = answers_match("\\frac{1}{2}", "0.5")
        results["differ"] = answers_match("2", "3")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert errors, "math-verify's parse no longer fails in a thread: answers_match's switch may go"
    assert results == {"match": True, "differ": False}


@pytest.mark.parametrize("reply, thinking, problem", [
    ("<think>\nlet me see\n</think>\n\nIt is \\boxed{3}.<|im_end|>", True, None),
    ("<think>\nlet me see\n</think>\n\nIt is 3", True, None),  # cut at the limit after answering: shape fine
    ("It is 3.<|im_end|>", True, "does not open with <think>"),
    ("<think>\nstill thinking", True, "<think> never closed"),
    ("<think>a</think><think>b</think>3<|im_end|>", True, "2 <think> and 2 </think>: not one block"),
    ("<think>\nok\n</think>\n\n<|im_end|>", True, "no answer after </think>"),
    ("It is 3.<|im_end|>", False, None),
    ("<think>\nhmm\n</think>\n\n3<|im_end|>", False, "thinking text with thinking off"),
    ("It is 3 and then", False, "did not stop at <|im_end|>"),
])
def test_format_problem(reply, thinking, problem):
    assert format_problem(reply, enable_thinking=thinking) == problem


class _Tokenizer:
    """Token ids 0-9 are words, 10 is <|im_end|>, 11 is <|endoftext|> (the eos and pad token here)."""

    eos_token_id, pad_token_id = 11, 11

    def convert_tokens_to_ids(self, token):
        return {"<|im_end|>": 10, "<|endoftext|>": 11}[token]

    def decode(self, ids, skip_special_tokens=False):
        return "".join({10: "<|im_end|>", 11: "<|endoftext|>"}.get(i, f"w{i}") for i in ids)


def test_reply_records_cut_at_the_stop_token():
    records = reply_records([[1, 2, 10, 11, 11], [1, 2, 3, 4, 5], [1, 11, 11, 11, 11]], _Tokenizer(), max_new_tokens=5)
    assert [r["reply"] for r in records] == ["w1w2<|im_end|>", "w1w2w3w4w5", "w1<|endoftext|>"]
    assert [r["n_tokens"] for r in records] == [3, 5, 2]
    assert [r["stopped"] for r in records] == [True, False, True]
    assert [r["hit_limit"] for r in records] == [False, True, False]


def test_summary_and_table():
    think = score_records([{"reply": "<think>\nx\n</think>\n\n\\boxed{\\frac12}<|im_end|>", "n_tokens": 8,
                            "stopped": True, "hit_limit": False},
                           {"reply": "<think>\nx", "n_tokens": 4, "stopped": False, "hit_limit": True}],
                          enable_thinking=True, expected=["0.5", "2"])
    assert [r["answer"] for r in think] == ["\\frac12", None] and [r["correct"] for r in think] == [True, False]
    plain = score_records([{"reply": "3<|im_end|>", "n_tokens": 2, "stopped": True, "hit_limit": False}],
                          enable_thinking=False)
    assert plain[0]["correct"] is None and plain[0]["format"] is None
    assert eval_summary(think) == {"rows": 2, "accuracy": 0.5, "format ok": 0.5, "mean reply tokens": 6.0,
                                   "hit max_new_tokens": 0.5}
    summaries = {(model, mode): eval_summary(recs) for model in ("before (base)", "after (adapter)")
                 for mode, recs in (("thinking on", think), ("thinking off", plain))}
    table = eval_table(summaries)
    assert table.shape == (2 * len(EVAL_METRICS), 2)
    assert list(table.columns) == ["before (base)", "after (adapter)"]
    assert table.loc[("thinking on", "accuracy"), "after (adapter)"] == 0.5
    assert table.loc[("thinking off", "accuracy")].isna().all()
    assert isinstance(plot_eval(table), Figure)
    with pytest.raises(ValueError, match="same rows"):
        score_records(plain, enable_thinking=False, expected=["1", "2"])
    with pytest.raises(ValueError, match="no replies"):
        eval_summary([])


def test_prompt_of_a_rendered_row():
    from qwen3lab.evaluate import prompt_messages, prompt_text

    text = ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n2"
            "<|im_end|>\n<|im_start|>user\nAnd 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n")
    assert prompt_text(text).endswith("And 2+2?<|im_end|>\n<|im_start|>assistant\n")
    assert prompt_messages(text) == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"},
                                     {"role": "assistant", "content": "2"}, {"role": "user", "content": "And 2+2?"}]
    with pytest.raises(ValueError, match="not a rendered conversation"):
        prompt_text("plain text")
