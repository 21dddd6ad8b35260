"""Did fine-tuning help? Final answers checked with math-verify, the thinking format checked per
mode, reply lengths, and the before/after table of notebook 07.

* ``extract_answer``: the content of the last ``\\boxed{...}`` of a reply (braces nested inside it
  are counted, which a regular expression cannot do);
* ``answers_match``: math-verify's ``parse`` and ``verify`` (the library TRL's accuracy reward
  uses), so that ``\\frac{1}{2}`` and ``0.5``, ``1,000`` and ``1000``, ``x=3`` and ``3`` match;
* ``prompt_text`` / ``prompt_messages``: the question of a rendered row (04 holds out by it, 07 asks it);
* ``format_problem``: what is wrong with a reply's shape for its thinking mode, or None;
* ``reply_records`` / ``eval_summary`` / ``eval_table``: per-reply facts, per-mode figures, and
  the before/after table (``plots.plot_eval`` draws it).

Introduced in 07_evaluation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from .chat import THINK_END, THINK_START

BOXED = "\\boxed{"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ASSISTANT = IM_START + "assistant\n"
ENDOFTEXT = "<|endoftext|>"
#: math-verify's own default time limits (seconds), used where they can work: in the main thread.
PARSE_TIMEOUT, VERIFY_TIMEOUT = 5, 5
#: The figures of ``eval_summary``, in the table's order, with what each one means.
EVAL_METRICS = {
    "rows": "replies generated",
    "accuracy": "share whose last \\boxed{} matches expected_answer (math-verify); NaN without expected answers",
    "format ok": "share with the mode's shape (format_problem is None)",
    "mean reply tokens": "mean new tokens per reply, up to and including the stop token",
    "hit max_new_tokens": "share that ran out of new tokens before a stop token",
}


def prompt_text(text: str) -> str:
    """The prompt part of one rendered training row: everything up to and including the last
    ``<|im_start|>assistant\n`` (the question, with any system turn and earlier turns). Two rows with
    the same prompt are the same question; 04 holds out by it. Introduced in 04_sampling.
    """
    at = text.rfind(ASSISTANT)
    if at < 0:
        raise ValueError(f"no {ASSISTANT!r} in the row: not a rendered conversation ({text[:60]!r}...)")
    return text[:at + len(ASSISTANT)]


def text_messages(text: str) -> list[dict[str, str]]:
    """The turns of a conversation rendered with Qwen3's template, back as ``[{"role", "content"}]``
    (an assistant turn keeps its ``<think>`` block as written). Introduced in 03_dataset_cleaning."""
    messages = []
    for chunk in text.split(IM_START)[1:]:
        role, _, content = chunk.partition("\n")
        messages.append({"role": role, "content": content.split(IM_END, 1)[0]})
    return messages


def prompt_messages(text: str) -> list[dict[str, str]]:
    """The turns of ``prompt_text(text)`` as ``[{"role", "content"}]``, the input of
    ``tokenizer.apply_chat_template(..., add_generation_prompt=True)``: one rendered row back into the
    messages that ask its question (the last assistant reply, the answer, left out). Introduced in 07_evaluation.
    """
    return text_messages(prompt_text(text)[:-len(ASSISTANT)])


def extract_answer(text: str | None) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text``, nested braces included (``\\boxed{\\frac{1}{2}}``
    gives ``\\frac{1}{2}``); None when there is none, or when the last one is never closed (a reply
    cut at ``max_new_tokens``). Introduced in 07_evaluation.
    """
    if not text:
        return None
    start = text.rfind(BOXED)
    while start >= 0:
        depth, i = 1, start + len(BOXED)
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[start + len(BOXED):i - 1].strip()
        start = text.rfind(BOXED, 0, start)  # unclosed: look at the box before it
    return None


def _as_math(s: str) -> str:
    """``s`` as inline LaTeX: math-verify's default extraction then reads ``\\dfrac12``, sets and tuples."""
    s = s.strip()
    while len(s) >= 2 and s[0] == s[-1] == "$":
        s = s[1:-1].strip()
    return f"${s}$"


def answers_match(prediction: str | None, gold: str | None) -> bool:
    """Whether ``prediction`` (an extracted answer, e.g. from ``extract_answer``) equals ``gold``
    (``expected_answer``) as mathematics, through math-verify's ``parse`` and ``verify``.

    math-verify limits each call with ``signal.alarm``, which exists only in the main thread: from any
    other thread (a web server, a thread pool, some notebook front ends) ``parse`` raises ValueError.
    There the limits are switched off with math-verify's own parameters (``parsing_timeout=None``,
    ``timeout_seconds=None``), as its error message advises. Introduced in 07_evaluation.
    """
    from math_verify import parse, verify

    if not prediction or not gold or not prediction.strip() or not gold.strip():
        return False
    main = threading.current_thread() is threading.main_thread()
    parsing_timeout = PARSE_TIMEOUT if main else None
    gold_parsed = parse(_as_math(gold), parsing_timeout=parsing_timeout)
    predicted = parse(_as_math(prediction), parsing_timeout=parsing_timeout)
    if not gold_parsed or not predicted:
        return False
    return bool(verify(gold_parsed, predicted, timeout_seconds=VERIFY_TIMEOUT if main else None))


def format_problem(reply: str, *, enable_thinking: bool) -> str | None:
    """What is wrong with the shape of one reply for its thinking mode, or None when it has the shape.

    ``reply`` is what the model generated after the prompt, special tokens kept (``reply_records``).
    Thinking on: the reply opens one ``<think>`` block at its start, closes it, and then answers.
    Thinking off: the template already wrote the empty block into the prompt, so the reply carries no
    ``<think>``/``</think>`` at all, and it ends at ``<|im_end|>``. Introduced in 07_evaluation.
    """
    opened, closed = reply.count(THINK_START), reply.count(THINK_END)
    if not enable_thinking:
        if opened or closed:
            return "thinking text with thinking off"
        if not reply.rstrip().endswith(IM_END):
            return f"did not stop at {IM_END}"
        return None
    if not reply.lstrip().startswith(THINK_START):
        return f"does not open with {THINK_START}"
    if opened != 1 or closed > 1:
        return f"{opened} {THINK_START} and {closed} {THINK_END}: not one block"
    if closed == 0:
        return f"{THINK_START} never closed"
    answer = reply.split(THINK_END, 1)[1].replace(IM_END, "").strip()
    return None if answer else f"no answer after {THINK_END}"


def reply_records(new_ids: Any, tokenizer, *, max_new_tokens: int) -> list[dict[str, Any]]:
    """One dict per generated row (``out[:, prompt_length:]`` of a left-padded batch): ``reply`` (decoded
    with special tokens, up to and including the first stop token), ``n_tokens`` (new tokens up to
    there), ``stopped`` (a stop token came) and ``hit_limit`` (it ran out of ``max_new_tokens`` first).

    Stop tokens: ``<|im_end|>`` (the end of a turn), ``<|endoftext|>`` and the tokenizer's eos, the ones
    Qwen3's ``generation_config`` stops at; after a row's stop, ``generate`` fills it with pad tokens,
    which are cut off. Introduced in 07_evaluation.
    """
    stop = {tokenizer.convert_tokens_to_ids(t) for t in (IM_END, ENDOFTEXT)} | {tokenizer.eos_token_id}
    stop.discard(None)
    rows = []
    for ids in (new_ids.tolist() if hasattr(new_ids, "tolist") else new_ids):
        at = next((i for i, t in enumerate(ids) if t in stop), None)
        kept = ids if at is None else ids[:at + 1]
        rows.append({"reply": tokenizer.decode(kept, skip_special_tokens=False), "n_tokens": len(kept),
                     "stopped": at is not None, "hit_limit": at is None and len(ids) >= max_new_tokens})
    return rows


def score_records(records: Iterable[dict[str, Any]], *, enable_thinking: bool,
                  expected: Sequence[str | None] | None = None) -> list[dict[str, Any]]:
    """``records`` with ``format`` (``format_problem``, None = fine), ``answer`` (``extract_answer`` of
    the text after the thinking block) and ``correct`` (``answers_match`` against ``expected``, or
    None without expected answers). Introduced in 07_evaluation.
    """
    records = list(records)
    if expected is not None and len(expected) != len(records):
        raise ValueError(f"{len(records)} replies but {len(expected)} expected answers: pass the same rows")
    out = []
    for i, rec in enumerate(records):
        after_thinking = rec["reply"].rsplit(THINK_END, 1)[-1]
        answer = extract_answer(after_thinking)
        out.append({**rec, "format": format_problem(rec["reply"], enable_thinking=enable_thinking),
                    "answer": answer, "correct": None if expected is None else answers_match(answer, expected[i])})
    return out


def eval_summary(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The figures of ``EVAL_METRICS`` for one model and one mode, from ``score_records``. Introduced in 07_evaluation."""
    n = len(records)
    if not n:
        raise ValueError("no replies to summarize: generate on at least one held-out row")
    scored = [r["correct"] for r in records if r.get("correct") is not None]
    return {"rows": n,
            "accuracy": sum(scored) / len(scored) if scored else float("nan"),
            "format ok": sum(r["format"] is None for r in records) / n,
            "mean reply tokens": sum(r["n_tokens"] for r in records) / n,
            "hit max_new_tokens": sum(bool(r["hit_limit"]) for r in records) / n}


def eval_table(summaries: dict[tuple[str, str], dict[str, float]]) -> "pd.DataFrame":
    """The before/after table: one row per (mode, figure of ``EVAL_METRICS``), one column per model, from
    ``{(model, mode): eval_summary(...)}`` (models and modes in the order given). Introduced in 07_evaluation.
    """
    import pandas as pd

    models = list(dict.fromkeys(model for model, _ in summaries))
    modes = list(dict.fromkeys(mode for _, mode in summaries))
    index = pd.MultiIndex.from_product([modes, list(EVAL_METRICS)], names=["mode", "metric"])
    table = pd.DataFrame(index=index, columns=models, dtype=float)
    for (model, mode), summary in summaries.items():
        for metric in EVAL_METRICS:
            table.loc[(mode, metric), model] = summary[metric]
    return table


__all__ = ["BOXED", "EVAL_METRICS", "answers_match", "eval_summary", "eval_table", "extract_answer", "format_problem",
           "prompt_messages", "text_messages", "prompt_text", "reply_records", "score_records"]
