"""Talking to the model through the Qwen3 chat template.

The template itself lives in the tokenizer (``chat_template.jinja``); these functions only call
it, tokenize its output, generate, and take the reply apart again. ``tokenize=False`` first, so
the exact string the model sees can be read and asserted.

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
ROLES = ("system", "user", "assistant", "tool")

# Qwen's control tokens all look like <|name|>; <think> and <tool_call> do not, and stay in the text.
_CONTROL_TOKEN = re.compile(r"<\|[a-z_]+\|>")

#: What each tensor a tokenizer returns means (for ``batch_table``).
TENSOR_MEANINGS = {
    "input_ids": "token ids, one row per conversation; padding is pad_token_id",
    "attention_mask": "1 = a real token the model attends to, 0 = padding to ignore",
}


def _check_messages(messages: list[dict[str, Any]]) -> None:
    """Fail with the message's index and the fix, rather than deep inside Jinja."""
    if not messages:
        raise ValueError("messages is empty: give at least one {'role': 'user', 'content': ...}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"messages[{i}] = {message!r}: each message needs a 'role', one of {list(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise ValueError(f"messages[{i}] ({message['role']}) needs 'content' as a string, "
                             f"got {type(message.get('content')).__name__}")


def render_chat(tokenizer, messages: list[dict[str, Any]], *, enable_thinking: bool,
                add_generation_prompt: bool = True) -> str:
    """The exact prompt string the model sees for ``messages``.

    ``enable_thinking=False`` appends an empty ``<think>\\n\\n</think>\\n\\n`` after the assistant
    header, so the model goes straight to the answer; ``True`` leaves the block for the model to
    write. Introduced in 02_chat_templates.
    """
    _check_messages(messages)
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking,
    )


def encode_chats(tokenizer, conversations: list[list[dict[str, Any]]], *, enable_thinking: bool):
    """Render each conversation and tokenize them together into padded ``pt`` tensors.

    ``add_special_tokens=False`` because the template already wrote every special token (Qwen3
    adds no BOS, but the habit keeps other tokenizers from adding one twice). Padding goes on the
    tokenizer's ``padding_side`` (left after ``load_model``). Introduced in 02_chat_templates.
    """
    prompts = [render_chat(tokenizer, messages, enable_thinking=enable_thinking) for messages in conversations]
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)


def batch_table(batch) -> "pd.DataFrame":
    """One row per tensor of a tokenized batch: its shape, dtype and meaning. Introduced in 02_chat_templates."""
    import pandas as pd

    rows = [{"tensor": name, "shape": tuple(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
             "meaning": TENSOR_MEANINGS.get(name, "")} for name, value in batch.items()]
    return pd.DataFrame(rows).set_index("tensor")


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


def chat(model, tokenizer, messages: list[dict[str, Any]], *, enable_thinking: bool = False,
         max_new_tokens: int = 256, stream: bool = False, do_sample: bool = True, seed: int | None = 3407,
         **generate_kwargs: Any) -> str:
    """Generate one assistant reply to ``messages`` and return its text.

    Samples with Qwen's recommended settings for the mode (``SAMPLING``) unless ``do_sample=False``
    or overridden in ``generate_kwargs``; ``seed`` makes a sampled reply repeatable on the same
    machine. ``stream=True`` also prints the tokens as they come (``TextStreamer``). Control tokens
    such as ``<|im_end|>`` are removed; ``<think>``/``</think>`` are ordinary added tokens and stay,
    for ``split_thinking``. Introduced in 02_chat_templates.
    """
    import torch
    from transformers import TextStreamer

    inputs = encode_chats(tokenizer, [messages], enable_thinking=enable_thinking).to(model.device)
    settings = {**(SAMPLING[enable_thinking] if do_sample else {}), **generate_kwargs}
    if seed is not None:
        torch.manual_seed(seed)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True) if stream else None
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=do_sample, streamer=streamer,
                             pad_token_id=tokenizer.pad_token_id, **settings)
    new_tokens = out[0, inputs["input_ids"].shape[1]:]
    return tokenizer.decode(new_tokens, skip_special_tokens=True)


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


__all__ = ["SAMPLING", "TENSOR_MEANINGS", "THINK_END", "THINK_START", "batch_table", "chat", "encode_chats",
           "render_chat", "split_thinking", "token_table"]
