"""Talking to the model through the Qwen3 chat template.

Introduced in 02_chat_templates.
"""

from __future__ import annotations

import re
from typing import Any

#: Sampling settings Qwen recommends for Qwen3 (model card, "Best Practices").
SAMPLING = {
    True: {"temperature": 0.6, "top_p": 0.95, "top_k": 20},  # thinking mode
    False: {"temperature": 0.7, "top_p": 0.8, "top_k": 20},  # non-thinking mode
}

_SPECIAL = re.compile(r"<\|(?:im_start|im_end|endoftext|vision_pad)\|>")


def render_chat(tokenizer, messages: list[dict[str, str]], *, enable_thinking: bool,
                add_generation_prompt: bool = True) -> str:
    """The exact prompt string the model sees for ``messages``. Introduced in 02_chat_templates."""
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking,
    )


def chat(model, tokenizer, messages: list[dict[str, str]], *, enable_thinking: bool = False,
         max_new_tokens: int = 256, stream: bool = False, do_sample: bool = True, seed: int | None = 3407,
         **generate_kwargs: Any) -> str:
    """Generate one assistant reply to ``messages`` and return its text (special tokens removed).

    Uses Qwen's recommended sampling for the mode unless overridden; ``stream=True`` prints the
    tokens as they come (``TextStreamer``). Introduced in 02_chat_templates.
    """
    import torch
    from transformers import TextStreamer

    prompt = render_chat(tokenizer, messages, enable_thinking=enable_thinking)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    settings = {**(SAMPLING[enable_thinking] if do_sample else {}), **generate_kwargs}
    if seed is not None:
        torch.manual_seed(seed)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True) if stream else None
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=do_sample, streamer=streamer,
                             pad_token_id=tokenizer.pad_token_id, **settings)
    new_tokens = out[0, inputs["input_ids"].shape[1]:]
    return tokenizer.decode(new_tokens, skip_special_tokens=True)


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a reply. Introduced in 02_chat_templates.

    Handles a reply with no think block (thinking is ""), an unclosed ``<think>`` (all of it is
    thinking, the answer is ""), a ``</think>`` without its opening tag (Qwen3's template puts
    ``<think>`` in the prompt, so generations often start inside it), and special tokens such as
    ``<|im_end|>`` left in the text.
    """
    text = _SPECIAL.sub("", text)
    open_at = text.find("<think>")
    close_at = text.find("</think>", open_at + 1 if open_at >= 0 else 0)
    if close_at >= 0:
        start = open_at + len("<think>") if 0 <= open_at < close_at else 0
        return text[start:close_at].strip(), text[close_at + len("</think>"):].strip()
    if open_at >= 0:
        return text[open_at + len("<think>"):].strip(), text[:open_at].strip()
    return "", text.strip()


__all__ = ["SAMPLING", "chat", "render_chat", "split_thinking"]
