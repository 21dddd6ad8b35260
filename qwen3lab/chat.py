"""Around the chat template and ``generate``: Qwen's sampling settings, tables of a tokenized
batch, and taking a reply apart into thinking and answer.

The calls themselves (``apply_chat_template``, ``tokenizer(..., return_tensors="pt")``,
``model.generate``, ``batch_decode``, ``TextStreamer``) are written out in notebook 02's cells.
``reply`` repeats them for the side-by-side tables of later notebooks.

Introduced in 02_chat_templates.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Sampling settings Qwen recommends for Qwen3 (model card, "Best Practices"), keyed by
#: ``enable_thinking``. Min-p is 0 in both modes, the default, so it is not set.
SAMPLING: dict[bool, dict[str, float | int]] = {
    True: {"temperature": 0.6, "top_p": 0.95, "top_k": 20},  # thinking mode
    False: {"temperature": 0.7, "top_p": 0.8, "top_k": 20},  # non-thinking mode
}

THINK_START, THINK_END = "<think>", "</think>"

# Qwen's control tokens all look like <|name|>; <think> and <tool_call> do not, and stay in the text.
_CONTROL_TOKEN = re.compile(r"<\|[a-z_]+\|>")

#: What each tensor a tokenizer returns means (for ``batch_table``).
TENSOR_MEANINGS = {
    "input_ids": "token id，每个对话一行；填充的位置是 pad_token_id",
    "attention_mask": "1 = 模型要看的真实 token，0 = 要忽略的填充",
}


def batch_table(batch) -> "pd.DataFrame":
    """One row per tensor of a tokenized batch: its shape, dtype and meaning. Introduced in 02_chat_templates."""
    import pandas as pd

    rows = [{"张量": name, "shape": tuple(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
             "含义": TENSOR_MEANINGS.get(name, "")} for name, value in batch.items()]
    return pd.DataFrame(rows).set_index("张量")


def token_table(tokenizer, batch, row: int = 0) -> "pd.DataFrame":
    """Row ``row`` of a tokenized batch, token by token: id, its text, and the attention mask.

    A token that holds only part of a character's UTF-8 bytes shows as ``�``.
    Introduced in 02_chat_templates.
    """
    import pandas as pd

    ids = batch["input_ids"][row].tolist()
    mask = batch["attention_mask"][row].tolist()
    return pd.DataFrame({"input_ids": ids, "token": [tokenizer.decode([i]) for i in ids],
                         "attention_mask": mask}).rename_axis("position")


def reply(model, tokenizer, messages: list[dict[str, Any]], *, enable_thinking: bool, max_new_tokens: int,
          seed: int = 3407) -> str:
    """One sampled reply to ``messages`` with Qwen's settings for the mode (``SAMPLING``) and a fixed
    seed: notebook 02's template, tokenize, ``generate`` and decode, for the tables of later notebooks.
    Control tokens such as ``<|im_end|>`` are dropped; ``<think>``/``</think>`` stay, for
    ``split_thinking``. Introduced in 06_saving_and_chat.
    """
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=enable_thinking)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True,
                             pad_token_id=tokenizer.pad_token_id, **SAMPLING[enable_thinking])
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def _split_at(text: str, tag: str) -> tuple[str, str] | None:
    at = text.find(tag)
    return (text[:at], text[at + len(tag):]) if at >= 0 else None


def _join(pieces: list[str]) -> str:
    return "\n\n".join(p.strip() for p in pieces if p.strip())


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a reply, both stripped. Introduced in 02_chat_templates.

    * no think block: ``("", text)``;
    * ``<think>...</think>answer``: the block's content and what follows it (an empty block, as in
      non-thinking mode, gives ``""`` as the thinking);
    * ``...</think>answer`` with no opening tag: in thinking mode the template does not write
      ``<think>``, the model does, but a decoded reply may begin inside the block, so everything
      before ``</think>`` is thinking;
    * ``<think>...`` never closed (generation stopped early): all of it is thinking, answer ``""``;
    * several blocks: their contents joined by a blank line; text outside every block is the answer;
    * control tokens (``<|im_end|>``, ``<|endoftext|>``, ...) are removed first.
    """
    text = _CONTROL_TOKEN.sub("", text)
    thinking: list[str] = []
    answer: list[str] = []
    head = _split_at(text, THINK_END)
    if head is not None and THINK_START not in head[0]:
        thinking.append(head[0])
        text = head[1]
    while (parts := _split_at(text, THINK_START)) is not None:
        answer.append(parts[0])
        block = _split_at(parts[1], THINK_END)
        if block is None:  # unclosed: the rest is thinking
            thinking.append(parts[1])
            text = ""
            break
        thinking.append(block[0])
        text = block[1]
    answer.append(text)
    return _join(thinking), _join(answer)


__all__ = ["SAMPLING", "TENSOR_MEANINGS", "THINK_END", "THINK_START", "batch_table", "reply", "split_thinking",
           "token_table"]
