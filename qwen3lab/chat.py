"""Around the chat template and ``generate``: Qwen's sampling settings, tables of a tokenized batch,
and taking a reply apart into thinking and answer. Notebook 02 writes the calls out; ``reply``
repeats them for later notebooks.

Introduced in 02_chat_templates.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Qwen's recommended sampling for Qwen3 (model card, "Best Practices"), keyed by ``enable_thinking``.
SAMPLING: dict[bool, dict[str, float | int]] = {
    True: {"temperature": 0.6, "top_p": 0.95, "top_k": 20},
    False: {"temperature": 0.7, "top_p": 0.8, "top_k": 20},
}

THINK_START, THINK_END = "<think>", "</think>"

# Qwen's control tokens look like <|name|>; <think> and <tool_call> do not, and stay in the text.
_CONTROL_TOKEN = re.compile(r"<\|[a-z_]+\|>")

#: What each tensor a tokenizer returns means (for ``batch_table``).
TENSOR_MEANINGS = {
    "input_ids": "token id，每个对话一行；填充的位置是 pad_token_id",
    "attention_mask": "1 = 模型要看的真实 token，0 = 要忽略的填充",
}


def batch_table(batch) -> "pd.DataFrame":
    """One row per tensor of a tokenized batch: shape, dtype and meaning. Introduced in 02_chat_templates."""
    import pandas as pd

    rows = [{"张量": name, "shape": tuple(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
             "含义": TENSOR_MEANINGS.get(name, "")} for name, value in batch.items()]
    return pd.DataFrame(rows).set_index("张量")


def token_table(tokenizer, batch, row: int = 0) -> "pd.DataFrame":
    """Row ``row`` of a tokenized batch, token by token: id, text (``�`` for part of a character's
    bytes) and attention mask. Introduced in 02_chat_templates."""
    import pandas as pd

    ids = batch["input_ids"][row].tolist()
    return pd.DataFrame({"input_ids": ids, "token": [tokenizer.decode([i]) for i in ids],
                         "attention_mask": batch["attention_mask"][row].tolist()}).rename_axis("position")


def reply(model, tokenizer, messages: list[dict[str, Any]], *, enable_thinking: bool, max_new_tokens: int,
          seed: int = 3407) -> str:
    """One sampled reply to ``messages`` with ``SAMPLING`` for the mode and a fixed seed. Control tokens
    are dropped; ``<think>``/``</think>`` stay, for ``split_thinking``. Introduced in 06_saving_and_chat."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=enable_thinking)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True,
                             pad_token_id=tokenizer.pad_token_id, **SAMPLING[enable_thinking])
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a reply, both stripped, control tokens removed first.

    Everything before a ``</think>`` with no opening tag is thinking (a decoded reply may begin inside
    the block); a ``<think>`` never closed makes the rest thinking; several blocks are joined by a
    blank line, and text outside every block is the answer. Introduced in 02_chat_templates."""
    text = _CONTROL_TOKEN.sub("", text)
    thinking: list[str] = []
    answer: list[str] = []
    head, closed, rest = text.partition(THINK_END)
    if closed and THINK_START not in head:
        thinking.append(head)
        text = rest
    while THINK_START in text:
        before, _, text = text.partition(THINK_START)
        answer.append(before)
        block, closed, rest = text.partition(THINK_END)
        thinking.append(block)
        text = rest if closed else ""
    answer.append(text)
    return tuple("\n\n".join(p.strip() for p in pieces if p.strip()) for pieces in (thinking, answer))


__all__ = ["SAMPLING", "TENSOR_MEANINGS", "THINK_END", "THINK_START", "batch_table", "reply",
           "split_thinking", "token_table"]
