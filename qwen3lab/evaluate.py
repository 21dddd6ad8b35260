"""Did fine-tuning help? Final answers (the last ``\\boxed{...}``) checked with math-verify, the
thinking format checked per mode, reply lengths, and notebook 07's before/after table
(``plots.plot_eval`` draws it).

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
#: math-verify's own default time limit (seconds) for parse and verify; it works in the main thread only.
TIMEOUT_S = 5
#: The figures of ``eval_summary``, in the table's order, with what each one means.
EVAL_METRICS = {
    "rows": "replies generated",
    "accuracy": "share whose last \\boxed{} matches expected_answer (math-verify); "
                "NaN without expected answers",
    "format ok": "share with the mode's shape (format_problem is None)",
    "mean reply tokens": "mean new tokens per reply, up to and including the stop token",
    "hit max_new_tokens": "share that ran out of new tokens before a stop token",
}


def prompt_text(text: str) -> str:
    """The prompt part of one rendered row: everything up to and including the last
    ``<|im_start|>assistant\n``; rows with one prompt ask the same question. Introduced in 04_sampling."""
    at = text.rfind(ASSISTANT)
    if at < 0:
        raise ValueError(f"no {ASSISTANT!r} in the row: not a rendered conversation ({text[:60]!r}...)")
    return text[:at + len(ASSISTANT)]


def text_messages(text: str) -> list[dict[str, str]]:
    """The turns of a conversation rendered with Qwen3's template, back as ``[{"role", "content"}]``
    (an assistant turn keeps its ``<think>`` block). Introduced in 03_dataset_cleaning."""
    turns = (chunk.partition("\n") for chunk in text.split(IM_START)[1:])
    return [{"role": role, "content": content.split(IM_END, 1)[0]} for role, _, content in turns]


def prompt_messages(text: str) -> list[dict[str, str]]:
    """The messages that ask a rendered row's question (its last assistant reply left out), for
    ``apply_chat_template(..., add_generation_prompt=True)``. Introduced in 07_evaluation."""
    return text_messages(prompt_text(text)[:-len(ASSISTANT)])


def extract_answer(text: str | None) -> str | None:
    """The content of the last ``\\boxed{...}``, nested braces included; None when there is none or the
    last one is never closed (a reply cut at ``max_new_tokens``). Introduced in 07_evaluation."""
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
    """Whether ``prediction`` equals ``gold`` as mathematics, through math-verify's ``parse`` and
    ``verify`` (``\\frac{1}{2}`` and ``0.5``, ``x=3`` and ``3`` match).

    math-verify's time limits use ``signal.alarm``, which works only in the main thread; elsewhere they
    are switched off (``None``), as its error message advises. Introduced in 07_evaluation."""
    from math_verify import parse, verify

    if not (prediction or "").strip() or not (gold or "").strip():
        return False
    timeout = TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    gold_parsed = parse(_as_math(gold), parsing_timeout=timeout)
    predicted = parse(_as_math(prediction), parsing_timeout=timeout)
    return bool(gold_parsed and predicted and verify(gold_parsed, predicted, timeout_seconds=timeout))


def format_problem(reply: str, *, enable_thinking: bool) -> str | None:
    """What is wrong with a reply's shape for its thinking mode (special tokens kept), or None.

    Thinking on: one ``<think>`` block at the start, closed, then an answer. Thinking off: the template
    wrote the empty block into the prompt, so no think tags, and it ends at ``<|im_end|>``.
    Introduced in 07_evaluation."""
    opened, closed = reply.count(THINK_START), reply.count(THINK_END)
    if not enable_thinking:
        if opened or closed:
            return "thinking text with thinking off"
        return None if reply.rstrip().endswith(IM_END) else f"did not stop at {IM_END}"
    if not reply.lstrip().startswith(THINK_START):
        return f"does not open with {THINK_START}"
    if opened != 1 or closed > 1:
        return f"{opened} {THINK_START} and {closed} {THINK_END}: not one block"
    if closed == 0:
        return f"{THINK_START} never closed"
    answer = reply.split(THINK_END, 1)[1].replace(IM_END, "").strip()
    return None if answer else f"no answer after {THINK_END}"


def reply_records(new_ids: Any, tokenizer, *, max_new_tokens: int) -> list[dict[str, Any]]:
    """One dict per generated row (``out[:, prompt_length:]``), cut after its first stop token
    (``<|im_end|>``, ``<|endoftext|>`` or eos; the pad tokens after it go): ``reply`` (decoded with
    special tokens), ``n_tokens``, ``stopped`` and ``hit_limit`` (ran out of ``max_new_tokens`` first).
    Introduced in 07_evaluation."""
    stop = {tokenizer.convert_tokens_to_ids(t) for t in (IM_END, "<|endoftext|>")} | {tokenizer.eos_token_id}
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
    """``records`` with ``format`` (``format_problem``), ``answer`` (``extract_answer`` after the
    thinking block) and ``correct`` (None without ``expected``). Introduced in 07_evaluation."""
    records = list(records)
    if expected is not None and len(expected) != len(records):
        raise ValueError(f"{len(records)} replies but {len(expected)} expected answers: pass the same rows")
    out = []
    for i, rec in enumerate(records):
        answer = extract_answer(rec["reply"].rsplit(THINK_END, 1)[-1])
        correct = None if expected is None else answers_match(answer, expected[i])
        out.append({**rec, "format": format_problem(rec["reply"], enable_thinking=enable_thinking),
                    "answer": answer, "correct": correct})
    return out


def eval_summary(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The figures of ``EVAL_METRICS`` for one model and mode, from ``score_records``.
    Introduced in 07_evaluation."""
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
    """The before/after table from ``{(model, mode): eval_summary(...)}``: one row per (mode, metric),
    one column per model, in the order given. Introduced in 07_evaluation."""
    import pandas as pd

    models = list(dict.fromkeys(model for model, _ in summaries))
    modes = list(dict.fromkeys(mode for _, mode in summaries))
    index = pd.MultiIndex.from_product([modes, list(EVAL_METRICS)], names=["mode", "metric"])
    table = pd.DataFrame(index=index, columns=models, dtype=float)
    for (model, mode), summary in summaries.items():
        for metric in EVAL_METRICS:
            table.loc[(mode, metric), model] = summary[metric]
    return table


__all__ = ["BOXED", "EVAL_METRICS", "answers_match", "eval_summary", "eval_table", "extract_answer",
           "format_problem", "prompt_messages", "prompt_text", "reply_records", "score_records",
           "text_messages"]
